// probe and watch through the real built-in balancer (startDaemon, as `serve` runs it) in front of two
// kube-apiserver stand-ins on 127.0.0.2/127.0.0.3: the endpoint row is the balancer, the node rows are
// the stand-ins; then a node dies during a watch and the balancer's checks take it out.
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
import { runCommand } from './in-process.js';
import { startKubeApi } from './stand-ins.js';

test('probe and watch through the built-in balancer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-serve-'));
  const ca = await createCa('probe serve CA');
  const tls = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] });
  const port = await freePort();
  const targetPort = await freePort('127.0.0.2');
  const nodes = [
    await startKubeApi({ node: 'cp-01', host: '127.0.0.2', port: targetPort, tls, ca: ca.cert }),
    await startKubeApi({ node: 'cp-02', host: '127.0.0.3', port: targetPort, tls, ca: ca.cert }),
  ];
  const specPath = join(dir, 'endpoint.yaml');
  writeFileSync(specPath, stringify({
    cluster: { name: 'probe-serve' }, endpoint: '127.0.0.1',
    controlPlane: [{ name: 'cp-01', address: '127.0.0.2' }, { name: 'cp-02', address: '127.0.0.3' }],
    listeners: [{ name: 'kubernetes', port, targetPort, targets: 'controlPlane' }],
    healthCheck: { type: 'https', path: '/readyz', interval: '200ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 1 },
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${await freePort()}`, watch: false },
  }));
  const daemon = await startDaemon({ specPath, logger: createLogger({ level: 'silent' }), watch: false });
  try {
    const probed = await runCommand('probe', ['-c', specPath, '--json']);
    assert.equal(probed.code, 0, probed.stderr);
    const report = JSON.parse(probed.stdout) as { usable: boolean; rows: Array<{ name: string; port: number; tls: { coversEndpoint: boolean }; kubernetes: { readyz: { status: number }; version: { gitVersion: string } } }> };
    assert.equal(report.usable, true);
    assert.deepEqual(report.rows.map((r) => [r.name, r.port, r.kubernetes.readyz.status, r.tls.coversEndpoint]), [['endpoint', port, 200, true], ['cp-01', targetPort, 200, true], ['cp-02', targetPort, 200, true]]);
    assert.match(report.rows[0].kubernetes.version.gitVersion, /^v1\.32\.0\+cp-0[12]$/, 'the endpoint row is answered by a node through the balancer');

    // A node dies 1 s into a 3 s watch: whatever the balancer lets through is measured, and the summary
    // accounts for every attempt.
    const kill = (async () => { await new Promise((r) => setTimeout(r, 1000)); await nodes[0].close(); })();
    const watched = await runCommand('watch', ['-c', specPath, '--rate', '20/s', '--duration', '3s', '--https', '/readyz', '--json']);
    await kill;
    assert.equal(watched.code, 0, watched.stderr);
    const lines = watched.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; attempts?: number; failed?: number; windows?: Array<{ lengthMs: number }> });
    const summary = lines.at(-1)!;
    assert.equal(summary.event, 'summary');
    assert.ok((summary.attempts ?? 0) >= 50, `attempts ${summary.attempts}`);
    // The balancer retries refused connects on the other node; at most a short window may show.
    assert.ok((summary.windows ?? []).every((w) => w.lengthMs < 1500), JSON.stringify(summary));

    const after = await runCommand('probe', ['-c', specPath, '--json']);
    assert.equal(after.code, 0, 'a dead node is a warning, the endpoint stays usable');
    assert.match((JSON.parse(after.stdout) as { warnings: string[] }).warnings.join('\n'), /cp-01 127\.0\.0\.2:\d+ \(kubernetes\): TCP connect failed \(ECONNREFUSED\)/);
  } finally {
    await daemon.destroy();
    await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
});
