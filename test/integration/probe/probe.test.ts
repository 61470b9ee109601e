// probe against real sockets on 127.0.0.x: HTTPS kube-apiserver stand-ins and gRPC/HTTP2 Talos apid
// stand-ins (see stand-ins.ts), certificates from a throw-away CA.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { createCa, issueCertificate, type CertificateAuthority, type PemPair } from '../../../src/tls/certs.js';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';
import { runCommand } from './in-process.js';
import { startKubeApi, startTalosApi, type Closable } from './stand-ins.js';

const run = (...args: string[]) => runCommand('probe', args);

const ENDPOINT = '127.0.0.1';
const NODES = [{ name: 'cp-01', address: '127.0.0.2' }, { name: 'cp-02', address: '127.0.0.3' }];

let dir: string;
let ca: CertificateAuthority;
let serverTls: PemPair;
let client: PemPair;
let ports: { kubernetes: number; kubernetesTarget: number; talos: number; talosTarget: number };
let specPath: string;

const b64 = (text: string) => Buffer.from(text).toString('base64');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'probe-'));
  ca = await createCa('probe test CA');
  serverTls = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: [ENDPOINT, ...NODES.map((n) => n.address), 'localhost'] });
  client = await issueCertificate(ca, { commonName: 'os:admin', organization: 'system:masters', sans: [], client: true });
  ports = { kubernetes: await freePort(ENDPOINT), kubernetesTarget: await freePort('127.0.0.2'), talos: await freePort(ENDPOINT), talosTarget: await freePort('127.0.0.2') };
  specPath = join(dir, 'endpoint.yaml');
  writeFileSync(specPath, stringify({
    cluster: { name: 'probe-test' }, endpoint: ENDPOINT, controlPlane: NODES,
    listeners: [
      { name: 'kubernetes', port: ports.kubernetes, targetPort: ports.kubernetesTarget, targets: 'controlPlane' },
      { name: 'talos', port: ports.talos, targetPort: ports.talosTarget, targets: 'controlPlane' },
    ],
  }));
  writeFileSync(join(dir, 'kubeconfig'), stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'admin@probe-test',
    clusters: [{ name: 'probe-test', cluster: { server: `https://${ENDPOINT}:${ports.kubernetes}`, 'certificate-authority-data': b64(ca.cert) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: 'admin@probe-test', context: { cluster: 'probe-test', user: 'admin' } }],
  }));
  writeFileSync(join(dir, 'talosconfig'), stringify({
    context: 'probe-test',
    contexts: { 'probe-test': { endpoints: NODES.map((n) => n.address), ca: b64(ca.cert), crt: b64(client.cert), key: b64(client.key) } },
  }));
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Fleet { kube: Awaited<ReturnType<typeof startKubeApi>>[]; talos: Awaited<ReturnType<typeof startTalosApi>>[]; close(): Promise<void> }

/** The endpoint and both nodes, each with a kube-apiserver and an apid stand-in; `skip` leaves some out. */
async function startFleet(o: { requireClientCertificate?: boolean; skip?: string[]; tlsFor?: Record<string, PemPair> } = {}): Promise<Fleet> {
  const fleet: Fleet = { kube: [], talos: [], close: async () => { await Promise.all([...fleet.kube, ...fleet.talos].map((s: Closable) => s.close())); } };
  const hosts = [{ name: 'endpoint', address: ENDPOINT, kube: ports.kubernetes, talos: ports.talos }, ...NODES.map((n) => ({ ...n, kube: ports.kubernetesTarget, talos: ports.talosTarget }))];
  for (const host of hosts) {
    if (o.skip?.includes(host.name)) continue;
    const tls = o.tlsFor?.[host.name] ?? serverTls;
    const node = host.name === 'endpoint' ? 'cp-01' : host.name;
    fleet.kube.push(await startKubeApi({ node, host: host.address, port: host.kube, tls, ca: ca.cert, requireClientCertificate: o.requireClientCertificate }));
    fleet.talos.push(await startTalosApi({ hostname: node, host: host.address, port: host.talos, tls, ca: ca.cert }));
  }
  return fleet;
}

interface JsonReport { endpoint: string; usable: boolean; failures: string[]; warnings: string[]; rows: Array<Record<string, any>> }

describe('probe', () => {
  test('every node up, anonymous: usable, with TLS details, /readyz and /version per row', async () => {
    const fleet = await startFleet();
    try {
      const result = await run('-c', specPath, '--json');
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as JsonReport;
      assert.equal(report.usable, true);
      assert.deepEqual(Object.keys(report), ['endpoint', 'usable', 'failures', 'warnings', 'rows']);
      assert.equal(report.rows.length, 6);
      const endpointKube = report.rows.find((r) => r.role === 'endpoint' && r.listener === 'kubernetes')!;
      assert.equal(endpointKube.tcp.ok, true);
      assert.ok(endpointKube.tcp.ms >= 0);
      assert.match(endpointKube.tls.protocol, /^TLSv1\.[23]$/);
      assert.match(endpointKube.tls.subject, /CN=kube-apiserver/);
      assert.equal(endpointKube.tls.coversEndpoint, true);
      assert.ok(endpointKube.tls.daysLeft >= 363 && endpointKube.tls.daysLeft <= 365, String(endpointKube.tls.daysLeft));
      assert.equal(endpointKube.kubernetes.auth, 'anonymous');
      assert.equal(endpointKube.kubernetes.readyz.status, 200);
      const cp02 = report.rows.find((r) => r.name === 'cp-02' && r.listener === 'kubernetes')!;
      assert.equal(cp02.address, '127.0.0.3');
      assert.equal(cp02.kubernetes.version.gitVersion, 'v1.32.0+cp-02');
      const talos = report.rows.filter((r) => r.listener === 'talos');
      // Without a talosconfig: reachability over TLS only (apid demands a client certificate after the handshake).
      assert.ok(talos.every((r) => r.tls.ok && r.talos === undefined), JSON.stringify(talos));
      assert.ok(fleet.kube.every((k) => k.requests.some((r) => r.path === '/readyz' && !r.authorized)));

      const text = await run('-c', specPath);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^TARGET\s+ADDRESS\s+LISTENER\s+TCP\s+TLS\s+SUBJECT\s+SAN\s+EXPIRES\s+CHECK/);
      assert.match(text.stdout, /cp-01\s+127\.0\.0\.2:\d+\s+kubernetes\s+[\d.]+ms\s+TLSv1\.\d\s+CN=kube-apiserver\s+yes\s+\d+d\s+readyz 200, v1\.32\.0\+cp-01 \(anonymous\)/);
      assert.match(text.stdout, /endpoint usable\n$/);
    } finally {
      await fleet.close();
    }
  });

  test('with --kubeconfig and --talosconfig: client certificates, and the Talos Version call over gRPC', async () => {
    const fleet = await startFleet({ requireClientCertificate: true });
    try {
      const anonymous = JSON.parse((await run('-c', specPath, '--json')).stdout) as JsonReport;
      assert.equal(anonymous.rows[0].kubernetes.readyz.status, 401, 'the stand-in refuses anonymous clients');

      const result = await run('-c', specPath, '--json', '--kubeconfig', join(dir, 'kubeconfig'), '--talosconfig', join(dir, 'talosconfig'));
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as JsonReport;
      for (const row of report.rows.filter((r) => r.listener === 'kubernetes')) {
        assert.equal(row.kubernetes.auth, 'client-certificate');
        assert.equal(row.kubernetes.readyz.status, 200);
        assert.equal(row.tls.verified, true);
      }
      const talos = report.rows.filter((r) => r.listener === 'talos');
      assert.deepEqual(talos.map((r) => [r.name, r.talos.ok, r.talos.versions[0].tag, r.talos.versions[0].hostname]), [['endpoint', true, 'v1.12.0', 'cp-01'], ['cp-01', true, 'v1.12.0', 'cp-01'], ['cp-02', true, 'v1.12.0', 'cp-02']]);
      assert.equal(talos[0].talos.versions[0].arch, 'amd64');
      // The stand-in saw the gRPC path, an empty gRPC frame and the talosconfig's client certificate.
      for (const apid of fleet.talos) {
        assert.deepEqual(apid.calls.map((c) => [c.path, c.clientCommonName, c.body.toString('hex')]), [['/machine.MachineService/Version', 'os:admin', '0000000000']]);
      }
    } finally {
      await fleet.close();
    }
  });

  test('a talosconfig from another CA: the Talos call fails and the endpoint is not usable', async () => {
    const other = await createCa('someone else');
    const stranger = await issueCertificate(other, { commonName: 'os:admin', sans: [], client: true });
    const path = join(dir, 'talosconfig-other');
    writeFileSync(path, stringify({ context: 'x', contexts: { x: { endpoints: [ENDPOINT], ca: b64(other.cert), crt: b64(stranger.cert), key: b64(stranger.key) } } }));
    const fleet = await startFleet();
    try {
      const result = await run('-c', specPath, '--talosconfig', path);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error: endpoint 127\.0\.0\.1 is not usable: 127\.0\.0\.1:\d+ \(talos\): /);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.ok(fleet.talos.every((t) => t.calls.length === 0));
    } finally {
      await fleet.close();
    }
  });

  test("a node whose certificate does not name the endpoint makes it unusable (kubectl fails on that node)", async () => {
    const narrow = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.3'] });
    const fleet = await startFleet({ tlsFor: { 'cp-02': narrow } });
    try {
      const result = await run('-c', specPath);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /cp-02\s+127\.0\.0\.3:\d+\s+kubernetes\s+\S+\s+TLSv1\.\d\s+CN=kube-apiserver\s+NO/);
      assert.match(result.stderr, /not usable: cp-02 127\.0\.0\.3:\d+ \(kubernetes\): its certificate does not name the endpoint/);
    } finally {
      await fleet.close();
    }
  });

  test('a node down is a warning; the endpoint down is the reason it is not usable', async () => {
    const fleet = await startFleet({ skip: ['cp-02'] });
    try {
      const result = await run('-c', specPath, '--json');
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as JsonReport;
      assert.equal(report.usable, true);
      assert.ok(report.warnings.some((w) => /^cp-02 127\.0\.0\.3:\d+ \(kubernetes\): TCP connect failed \(ECONNREFUSED\)$/.test(w)), report.warnings.join('\n'));
    } finally {
      await fleet.close();
    }
    const down = await runCli(['probe', '-c', specPath, '--timeout', '500ms']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^error: endpoint 127\.0\.0\.1 is not usable: 127\.0\.0\.1:\d+ \(kubernetes\): TCP connect failed \(ECONNREFUSED\) \(\+\d+ more\)\n$/);
  });

  test('--endpoint with --node and --listener, without a spec', async () => {
    const fleet = await startFleet();
    try {
      const result = await run('--endpoint', ENDPOINT, '--node', 'cp-01=127.0.0.2', '--listener', `kubernetes=${ports.kubernetes}:${ports.kubernetesTarget}`, '--json');
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as JsonReport;
      assert.deepEqual(report.rows.map((r) => [r.name, r.port, r.kubernetes.readyz.status]), [['endpoint', ports.kubernetes, 200], ['cp-01', ports.kubernetesTarget, 200]]);
    } finally {
      await fleet.close();
    }
  });

  test('usage errors are one line with a fix', async () => {
    const bad = await runCli(['probe', '--endpoint', ENDPOINT, '--node', 'cp-01']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --node "cp-01" is not NAME=ADDR\n {2}fix: /);
    const both = await run('-c', specPath, '--endpoint', ENDPOINT);
    assert.equal(both.code, 2);
    const kubeconfig = await run('-c', specPath, '--kubeconfig', join(dir, 'missing'));
    assert.equal(kubeconfig.code, 2);
    assert.match(kubeconfig.stderr, /cannot read --kubeconfig .*missing: no such file/);
  });
});
