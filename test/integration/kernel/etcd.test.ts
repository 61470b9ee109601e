// alone: measures cut-offs and lost connections in milliseconds: no other test shares the CPU (test/run.sh)
// Real etcd through kernel mode (issue 20): a 3-member etcd cluster behind `serve` with balancer.mode: kernel in
// network namespaces, a watch (etcdctl: etcd's own client) and a long-lived writer at 20 puts/s through the
// endpoint, one member SIGKILLed: no put fails and the watch sees every put. Before passive health in the kernel
// path, every third new connection went to the dead member until its checks failed, and the writer's reconnect
// was refused.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { canUseNamespaces, Lab, type Proc } from '../../helpers/lab.js';
import { hasCommand } from '../render-bare-metal/netns.js';

const MEMBERS = ['etcd-1', 'etcd-2', 'etcd-3'] as const;
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A writer at 20 puts/s through the endpoint (etcd's JSON gateway), a new connection per put, as short-lived
 * clients and reconnecting ones make: puts k/<RUN>/<i>, each with 3 s to be answered. A connect that fails fails
 * the put, as it does for a plain client. A put whose connection was reset after it was accepted and before any
 * answer (the member died with the request in flight: no balancer in the kernel can replay it) is sent once more
 * on a new connection: a put of the same value is repeatable. One line per put.
 */
const WRITER = `
const http = require('node:http');
const [host, run, count] = [process.env.HOST, process.env.RUN, Number(process.env.COUNT)];
const b64 = (s) => Buffer.from(s).toString('base64');
const put = (i, retry) => new Promise((resolve) => {
  const body = JSON.stringify({ key: b64('k/' + run + '/' + i), value: b64('v' + i) });
  const started = Date.now();
  let connected = false, answered = false;
  const req = http.request({ host, port: ${CLIENT_PORT}, path: '/v3/kv/put', method: 'POST', agent: false, timeout: 3000, headers: { 'content-type': 'application/json' } }, (res) => {
    answered = true;
    let text = '';
    res.on('data', (d) => { text += d; });
    res.on('end', () => resolve(res.statusCode === 200 && text.includes('revision') ? 'ok ' + i + ' ' + (Date.now() - started) : 'fail ' + i + ' ' + res.statusCode + ' ' + text.slice(0, 100)));
  });
  req.on('socket', (socket) => socket.on('connect', () => { connected = true; }));
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => {
    if (connected && !answered && !retry && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return put(i, true).then(resolve);
    resolve('fail ' + i + ' ' + (e.code || e.message));
  });
  req.end(body);
});
let sent = 0;
const pending = [];
const tick = setInterval(() => {
  const i = ++sent;
  pending.push(put(i, false).then((line) => console.log(line)));
  if (sent >= count) { clearInterval(tick); Promise.all(pending).then(() => process.exit(0)); }
}, 50);
`;

class EtcdLab {
  readonly etcd = new Map<string, Proc>();
  serve: Proc | undefined;
  private constructor(readonly lab: Lab, readonly dir: string) {}

  static async create(): Promise<EtcdLab> {
    const hosts: Record<string, Record<string, number>> = { client: { front: 2 }, lb: { front: 1, back: 1 } };
    MEMBERS.forEach((m, i) => { hosts[m] = { back: 11 + i }; });
    const lab = await Lab.create({ segments: { front: 1, back: 2 }, hosts }, 'ceetcd');
    // The data directories on tmpfs: etcd fsyncs every write.
    const e = new EtcdLab(lab, await mkdtemp('/dev/shm/ce-etcd-'));
    try {
      await lab.sysctl('lb', 'net.ipv4.ip_forward=1');
      await lab.defaultRoute('client', 'lb');
      for (const m of MEMBERS) await lab.defaultRoute(m, 'lb');
      for (const m of MEMBERS) e.startMember(m, 'new');
      await e.waitHealthy();
    } catch (error) {
      await e.cleanup();
      throw error;
    }
    return e;
  }

  address(member: string): string {
    return this.lab.addressOf(member, 'back');
  }

  get endpoint(): string {
    return this.lab.addressOf('lb', 'front');
  }

  startMember(member: string, state: 'new' | 'existing'): void {
    const me = this.address(member);
    const cluster = MEMBERS.map((m) => `${m}=http://${this.address(m)}:${PEER_PORT}`).join(',');
    this.etcd.set(member, this.lab.spawn(member, [
      'etcd', '--name', member, '--data-dir', join(this.dir, member),
      '--listen-client-urls', `http://${me}:${CLIENT_PORT}`, '--advertise-client-urls', `http://${me}:${CLIENT_PORT}`,
      '--listen-peer-urls', `http://${me}:${PEER_PORT}`, '--initial-advertise-peer-urls', `http://${me}:${PEER_PORT}`,
      '--initial-cluster', cluster, '--initial-cluster-state', state, '--initial-cluster-token', 'ce-test', '--log-level', 'warn',
    ]));
  }

  /** Asks each member directly (from the balancer host) until all answer; returns the leader's name. */
  async waitHealthy(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(MEMBERS.map(async (m) => {
        try {
          const out = await this.lab.exec('lb', ['etcdctl', '--endpoints', `http://${this.address(m)}:${CLIENT_PORT}`, '--command-timeout', '2s', 'endpoint', 'status', '-w', 'json'], { timeoutMs: 5000 });
          return JSON.parse(out) as Array<{ Status: { header: { member_id: number }; leader: number } }>;
        } catch { return undefined; }
      }));
      if (statuses.every(Boolean)) {
        const leaderId = statuses[0]![0].Status.leader;
        const index = statuses.findIndex((s) => s![0].Status.header.member_id === leaderId);
        if (index >= 0) return MEMBERS[index];
      }
      if (Date.now() > deadline) throw new Error('the etcd cluster did not become healthy');
      await sleep(250);
    }
  }

  async startServe(preserveClientIp: boolean): Promise<void> {
    const spec = {
      cluster: { name: 'etcd' },
      endpoint: this.endpoint,
      controlPlane: MEMBERS.map((name) => ({ name, address: this.address(name) })),
      listeners: [{ name: 'etcd', port: CLIENT_PORT, targetPort: CLIENT_PORT, targets: 'controlPlane' }],
      healthCheck: { interval: '1s', fastInterval: '500ms', timeout: '500ms', healthyThreshold: 2, unhealthyThreshold: 2 },
      deregistrationDelay: '2s',
      balancer: { mode: 'kernel', preserveClientIp, bind: this.endpoint, admin: '127.0.0.1:8404', watch: false },
    };
    const path = join(this.dir, 'endpoint.yaml');
    await writeFile(path, stringify(spec));
    this.serve = this.lab.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', path], { cwd: ROOT, group: true });
    await this.serve.waitForLine((l) => l.json?.event === 'started', 30_000);
    // Every member up in the table (their first checks).
    const deadline = Date.now() + 15_000;
    while ((await this.states().catch(() => [])).filter((s) => s === 'up').length < MEMBERS.length) {
      if (Date.now() > deadline) throw new Error(`not every member came up: ${JSON.stringify(await this.states().catch(() => []))}`);
      await sleep(100);
    }
  }

  /** Each member's state as serve's admin API says. */
  async states(): Promise<string[]> {
    return (await this.status()).listeners[0].servers.map((s) => s.state);
  }

  async status(): Promise<{ listeners: Array<{ servers: Array<{ name: string; state: string }> }> }> {
    return JSON.parse(await this.lab.exec('lb', [process.execPath, '-e', 'fetch("http://127.0.0.1:8404/api/status").then((r) => r.text()).then((t) => process.stdout.write(t))']));
  }

  async stopServe(): Promise<void> {
    this.serve?.child.kill('SIGTERM');
    await this.serve?.exited;
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}

describe('real etcd through kernel mode: a member SIGKILLed under puts and a watch', { timeout: 240_000 }, () => {
  let e: EtcdLab | undefined;
  let ok = false;

  before(async () => {
    ok = (await canUseNamespaces()) && (await hasCommand('nft')) && (await hasCommand('conntrack')) && (await hasCommand('etcd')) && (await hasCommand('etcdctl'));
    if (ok) e = await EtcdLab.create();
  });
  after(async () => { await e?.cleanup(); });

  for (const preserveClientIp of [true, false]) {
    it(`preserveClientIp: ${preserveClientIp} — no put fails, the watch misses nothing`, async (t) => {
      if (!requireOrSkip(t, ok, 'needs root, `ip netns`, nft, conntrack, etcd and etcdctl (Debian etcd-server, etcd-client)')) return;
      const run = preserveClientIp ? 'kept' : 'snat';
      await e!.startServe(preserveClientIp);
      try {
        const leader = await e!.waitHealthy();
        // A follower dies: the cluster keeps its quorum and leader, so every failure is the balancer's.
        const victim = MEMBERS.find((m) => m !== leader)!;
        const watch = e!.lab.spawn('client', ['etcdctl', '--endpoints', `http://${e!.endpoint}:${CLIENT_PORT}`, 'watch', '--prefix', `k/${run}/`]);
        await sleep(500);
        const count = 160;
        const writer = e!.lab.spawn('client', [process.execPath, '-e', WRITER], { env: { HOST: e!.endpoint, RUN: run, COUNT: String(count) } });
        await sleep(2500);
        e!.lab.killGroup(e!.etcd.get(victim)!, 'SIGKILL');
        await writer.exited;
        const results = writer.lines.map((l) => l.text).filter((l) => /^(ok|fail) /.test(l));
        assert.equal(results.length, count, writer.lines.map((l) => l.text).slice(-5).join('\n'));
        assert.deepEqual(results.filter((l) => l.startsWith('fail')), [], `failed puts with ${victim} SIGKILLed`);
        const times = results.map((l) => Number(l.split(' ')[2]));
        t.diagnostic(`${count} puts, ${victim} SIGKILLed: 0 failed, ${times.filter((ms) => ms >= 500).length} waited for a SYN retransmission, slowest ${Math.max(...times)} ms`);
        // The watch resumes from its last revision wherever it reconnects: it sees every put.
        const deadline = Date.now() + 15_000;
        const seen = () => new Set(watch.lines.map((l) => l.text).filter((l) => l.startsWith(`k/${run}/`)));
        while (seen().size < count && Date.now() < deadline) await sleep(100);
        assert.equal(seen().size, count, 'the watch saw every put');
        e!.lab.killGroup(watch, 'SIGTERM');
        const status = await e!.status();
        assert.equal(status.listeners[0].servers.find((s) => s.name === victim)?.state, 'down');
        e!.startMember(victim, 'existing');
        await e!.waitHealthy();
      } finally {
        await e!.stopServe();
      }
    });
  }
});
