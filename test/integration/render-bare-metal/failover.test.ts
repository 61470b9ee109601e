// alone: measures failover times: no other test shares the CPU (test/run.sh)
// End to end: the RENDERED haproxy.cfg and keepalived.conf on two LB hosts in network namespaces,
// three control-plane stand-ins and a client on one private L2 segment. Two failures of the MASTER, each
// must move the VIP to the BACKUP and let the client reach the control plane again:
// 1. the MASTER loses its routes to every control-plane node: its HAProxy runs and accepts, but has no live
//    server (keepalived's check asks HAProxy, not its frontend); when the routes come back the VIP returns;
// 2. HAProxy dies on the MASTER.
// The test measures and prints how long the client was cut off each time.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { haproxyRenderer } from '../../../src/render/haproxy/haproxy.js';
import { keepalivedRenderer } from '../../../src/render/keepalived/keepalived.js';
import { parseSpec } from '../../../src/spec/load.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';
import { hasCommand, PROBER, Segment, sh, STAND_IN, type Host } from './netns.js';

const CONTEXT = { version: 'test', specName: 'endpoint.yaml' };

interface Probe { t: number; ok: boolean; answer: string }

/** A TCP connect from inside a host's namespace to its own loopback (bash's /dev/tcp, 1 s at most). */
async function canConnect(host: Host, port: number): Promise<boolean> {
  try {
    await sh('ip', ['netns', 'exec', host.ns, '/usr/bin/timeout', '1', '/bin/bash', '-c', `</dev/tcp/127.0.0.1/${port}`]);
    return true;
  } catch {
    return false;
  }
}

test('the rendered HAProxy + keepalived pair moves the VIP when the MASTER loses the control plane, and when its HAProxy dies', { timeout: 150_000 }, async (t) => {
  const root = process.getuid?.() === 0;
  if (!requireOrSkip(t, root, 'needs root for network namespaces')) return;
  for (const tool of ['ip', 'haproxy', 'keepalived', 'bash', 'timeout']) {
    if (!requireOrSkip(t, await hasCommand(tool), `needs ${tool} on PATH`)) return;
  }

  const segment = new Segment();
  const dir = await mkdtemp(join(tmpdir(), 'ce-bare-metal-'));
  try {
    const vip = segment.address(30);
    const specText = [
      'cluster: { name: e2e }',
      `endpoint: ${vip}`,
      'controlPlane:',
      ...[1, 2, 3].map((i) => `  - { name: cp-0${i}, address: ${segment.address(30 + i)} }`),
      'listeners:',
      '  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }',
      'healthCheck: { type: tcp, interval: 1s, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 2 }',
      'vip:',
      `  address: ${vip}`,
      '  prefixLength: 24',
      '  interface: eth0',
      '  advertInterval: 1s',
      '  authKey: e2e-test-key',
      '  peers:',
      `    - { name: lb-01, address: ${segment.address(11)}, priority: 100 }`,
      `    - { name: lb-02, address: ${segment.address(12)}, priority: 90 }`,
    ].join('\n');
    const loaded = parseSpec(specText, 'endpoint.yaml');
    assert.ok(loaded.spec, JSON.stringify(loaded.problems));
    const files = [...haproxyRenderer.render(loaded.spec, CONTEXT), ...keepalivedRenderer.render(loaded.spec, CONTEXT)];
    const fileFor = async (path: string) => {
      const file = files.find((f) => f.path === path);
      assert.ok(file, `rendered ${path}`);
      const out = join(dir, path.replaceAll('/', '_'));
      await writeFile(out, file.contents);
      return out;
    };
    const haproxyCfg = await fileFor('haproxy.cfg');

    await segment.createBridge();
    const lbs = [await segment.addHost('lb1', 11), await segment.addHost('lb2', 12)];
    const cps = [await segment.addHost('cp1', 31), await segment.addHost('cp2', 32), await segment.addHost('cp3', 33)];
    const client = await segment.addHost('client', 50);

    const log: string[] = [];
    const keep = (who: string) => (line: string) => { if (log.length < 2000) log.push(`${who}: ${line}`); };
    try {
      for (const [i, cp] of cps.entries()) segment.spawnIn(cp, process.execPath, ['-e', STAND_IN, `cp-0${i + 1}`, '6443'], keep(cp.name));
      // Each HAProxy gets its own /run (for the rendered /run/haproxy/admin.sock) in the private mount
      // namespace that `ip netns exec` creates; `exec` keeps the PID we track.
      const haproxies = lbs.map((lb) => segment.spawnIn(lb, '/bin/sh', ['-c', 'mount -t tmpfs tmpfs /run && mkdir /run/haproxy && exec haproxy -db -f "$0"', haproxyCfg], keep(`haproxy@${lb.name}`)));
      for (const [i, lb] of lbs.entries()) {
        const conf = await fileFor(`lb-0${i + 1}/keepalived.conf`);
        segment.spawnIn(lb, 'keepalived', [
          '--dont-fork', '--log-console', '--log-detail', '--vrrp', '-f', conf,
          '-p', join(dir, `${lb.name}-keepalived.pid`), '-r', join(dir, `${lb.name}-vrrp.pid`), '-c', join(dir, `${lb.name}-checkers.pid`),
        ], keep(`keepalived@${lb.name}`));
      }

      const holds = async (lb: Host) => (await segment.addresses(lb)).includes(` ${vip}/24 `);
      // Both may claim the VIP for a moment at start; the higher priority wins within an advert or two.
      assert.ok(await waitFor(async () => (await holds(lbs[0])) && !(await holds(lbs[1])), 20_000, 200), `lb1 (priority 100) holds the VIP, lb2 does not\n${log.join('\n')}`);

      const probes: Probe[] = [];
      const prober = segment.spawnIn(client, process.execPath, ['-e', PROBER, vip, '6443', '100', '1000', '100000'], (line) => {
        try { probes.push(JSON.parse(line) as Probe); } catch { keep('prober')(line); }
      });
      assert.ok(await waitFor(() => probes.filter((p) => p.ok).length >= 5, 10_000, 50), `the client reaches the control plane through the VIP\n${log.join('\n')}`);
      assert.match(probes.find((p) => p.ok)?.answer ?? '', /^cp-0[123]$/);
      const servedAgain = (since: number) => waitFor(() => probes.filter((p) => p.t > since && p.ok).length >= 5, 20_000, 50);

      /** From the last answer before the first failure after `since` to the first answer after it. */
      const cutOff = (since: number, what: string): number => {
        const after = probes.filter((p) => p.t >= since);
        const firstFail = after.findIndex((p) => !p.ok);
        assert.ok(firstFail >= 0, `${what} is noticed by the client (a test that cannot fail proves nothing)`);
        const lastOkBefore = [...probes].reverse().find((p) => p.ok && p.t < after[firstFail].t);
        const firstOkAfter = after.slice(firstFail).find((p) => p.ok);
        assert.ok(lastOkBefore && firstOkAfter);
        const ms = firstOkAfter.t - lastOkBefore.t;
        process.stdout.write(`# client cut off for ${ms} ms (${after.filter((p) => !p.ok).length} failed probes every 100 ms; VIP moved lb1 -> lb2 after ${what})\n`);
        t.diagnostic(`${what}: client cut off for ${ms} ms`);
        return ms;
      };

      // 1. lb1 loses its routes to the control plane: HAProxy there still accepts, with no live server behind it.
      const cutAt = Date.now();
      for (const cp of cps) await sh('ip', ['-n', lbs[0].ns, 'route', 'add', 'prohibit', `${cp.address}/32`]);
      assert.ok(await waitFor(async () => (await holds(lbs[1])) && !(await holds(lbs[0])), 20_000, 100), `lb1 gives up the VIP when its HAProxy has no live server\n${log.join('\n')}`);
      assert.ok(await servedAgain(cutAt), `the client reaches the control plane through lb2\n${log.join('\n')}`);
      assert.ok(cutOff(cutAt, 'lb1 lost its routes to the control plane') < 15_000, 'the outage stays short');
      assert.ok(await canConnect(lbs[0], 6443), 'HAProxy on lb1 still accepts connections: a TCP check of its frontend would have kept the VIP there');
      // The routes come back: lb1's HAProxy finds its servers, its check passes, and (preempt) it takes the VIP back.
      for (const cp of cps) await sh('ip', ['-n', lbs[0].ns, 'route', 'del', 'prohibit', `${cp.address}/32`]);
      assert.ok(await waitFor(async () => (await holds(lbs[0])) && !(await holds(lbs[1])), 20_000, 100), `lb1 takes the VIP back\n${log.join('\n')}`);
      const backAt = Date.now();
      assert.ok(await servedAgain(backAt), `the client reaches the control plane through lb1 again\n${log.join('\n')}`);

      // 2. HAProxy dies on lb1.
      const killedAt = Date.now();
      process.kill(haproxies[0].pid!, 'SIGKILL');
      assert.ok(await waitFor(async () => (await holds(lbs[1])) && !(await holds(lbs[0])), 20_000, 100), `the VIP moves to lb2\n${log.join('\n')}`);
      assert.ok(await servedAgain(killedAt), `the client reaches the control plane again\n${log.join('\n')}`);
      prober.kill('SIGTERM');
      const cutOffMs = cutOff(killedAt, 'HAProxy was killed');
      if (process.env.CE_DEBUG) process.stdout.write(log.filter((l) => !l.includes("gratuitous")).join("\n") + `\nkilled at ${new Date(killedAt).toISOString()}\n`);
      assert.ok(cutOffMs < 15_000, `the outage stays short (${cutOffMs} ms)`);
      assert.equal((await segment.addresses(lbs[1])).includes(vip), true);
    } catch (error) {
      process.stdout.write(`# process output:\n${log.map((l) => `#   ${l}`).join('\n')}\n`);
      throw error;
    }
  } finally {
    await segment.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
