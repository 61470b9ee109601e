// watch in front of the real built-in balancer (startDaemon, as `serve` runs it) whose servers all go down for
// about two seconds: the balancer still accepts every connection, so only a check that crosses it can see the
// outage. The Kubernetes listener gets GET /readyz by default, the Talos listener a TLS handshake.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { createLogger } from '../../../src/log.js';
import { startDaemon } from '../../../src/runtime/daemon.js';
import { createCa, issueCertificate } from '../../../src/tls/certs.js';
import { freePort } from '../../helpers/net.js';
import { runCommand } from '../probe/in-process.js';
import { startKubeApi, type Closable } from '../probe/stand-ins.js';

interface Line { event: string; mode?: string; attempts?: number; failed?: number; windows?: Array<{ lengthMs: number; failedAttempts: number; errors: Record<string, number>; ongoing: boolean }> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('watch sees every server behind serve go down for ~2 s, on the Kubernetes and the Talos listener', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'watch-serve-'));
  const ca = await createCa('watch serve CA');
  const tls = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] });
  const kubernetesPort = await freePort('127.0.0.2');
  const talosPort = await freePort('127.0.0.2');
  const hosts = [['cp-01', '127.0.0.2'], ['cp-02', '127.0.0.3']] as const;
  // Each node answers HTTPS on both ports (a TLS handshake is all the Talos listener's watch needs).
  const start = async () => Promise.all(hosts.flatMap(([node, host]) => [kubernetesPort, talosPort].map((port) => startKubeApi({ node, host, port, tls, ca: ca.cert }))));
  let nodes: Closable[] = await start();
  const port = { kubernetes: await freePort(), talos: await freePort() };
  const specPath = join(dir, 'endpoint.yaml');
  writeFileSync(specPath, stringify({
    cluster: { name: 'watch-serve' }, endpoint: '127.0.0.1',
    controlPlane: hosts.map(([name, address]) => ({ name, address })),
    listeners: [
      { name: 'kubernetes', port: port.kubernetes, targetPort: kubernetesPort, targets: 'controlPlane' },
      { name: 'talos', port: port.talos, targetPort: talosPort, targets: 'controlPlane' },
    ],
    // Patient enough that a loaded machine does not flap the servers (which would cut connections of its own).
    healthCheck: { type: 'tls', interval: '500ms', timeout: '400ms', healthyThreshold: 1, unhealthyThreshold: 2 },
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${await freePort()}`, watch: false },
  }));
  const daemon = await startDaemon({ specPath, logger: createLogger({ level: 'silent' }), watch: false });
  let downMs = 0;
  try {
    const outage = (async () => {
      await sleep(1500);
      const down = Date.now();
      await Promise.all(nodes.map((n) => n.close()));
      await sleep(2000 - (Date.now() - down));
      nodes = await start();
      downMs = Date.now() - down;
    })();
    const watch = (listener: string) => runCommand('watch', ['-c', specPath, '--listener', listener, '--rate', '25/s', '--duration', '5500ms', '--json']);
    const results = await Promise.all([watch('kubernetes'), watch('talos')]);
    await outage;
    for (const [result, mode] of [[results[0], 'https /readyz'], [results[1], 'tls']] as const) {
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
      assert.equal(lines[0].mode, mode, 'the default check of the listener');
      const summary = lines.at(-1)!;
      assert.equal(summary.event, 'summary');
      const windows = summary.windows ?? [];
      // The outage: about the time the servers were down (attempts are 40 ms apart), plus until the balancer's
      // checks (every 500 ms) take them back. While the nodes close one after another, a connection or two in
      // flight may be reset just before: short windows of their own, as may a check that times out on a busy
      // machine. The outage is the one that holds nearly every failure.
      const longest = windows.reduce((a, w) => (w.lengthMs > a.lengthMs ? w : a), windows[0]);
      assert.ok(longest, `${mode}: no outage reported`);
      assert.ok(longest.lengthMs >= downMs - 300 && longest.lengthMs <= downMs + 1500, `${mode}: window ${longest.lengthMs}ms, servers down ${downMs}ms`);
      assert.ok(longest.failedAttempts >= 20, `${mode}: ${longest.failedAttempts} failed attempts`);
      assert.equal(longest.ongoing, false, 'it ended when the servers came back');
      assert.ok(longest.failedAttempts >= 0.8 * (summary.failed ?? 0), `${mode}: ${JSON.stringify(windows)}`);
    }
  } finally {
    await daemon.close().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
