// Members discovered from the cluster, against a stand-in kube-apiserver that follows the list/watch protocol (one
// API server per "node" on loopback, one shared store): the real daemon lists the `kubernetes` EndpointSlices through
// the spec's seed node, watches from the list's resourceVersion with bookmarks, adds a node that appears (checked
// first), drains one that leaves for the deregistration delay, lists again after a 410, keeps the last known members
// while the API cannot be reached (and says so in status, metrics and the log), and follows the cluster again after.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { createLogger } from '../../../src/log.js';
import { KubernetesMembership } from '../../../src/membership/kubernetes/source.js';
import { loadCredentials } from '../../../src/membership/kubernetes/client.js';
import { startDaemon, type Daemon } from '../../../src/runtime/daemon.js';
import type { ServerSnapshot } from '../../../src/runtime/snapshot.js';
import { parseSpec } from '../../../src/spec/load.js';
import { tempSpec, type TempSpec } from '../../helpers/backends.js';
import { runCli } from '../../helpers/cli.js';
import { KubeApiStandIn } from '../../helpers/kube-api.js';
import { freePort, waitFor } from '../../helpers/net.js';

const base = 40 + Math.floor(Math.random() * 180);
const [A, B, C, D] = [0, 1, 2, 3].map((i) => `127.0.${base}.${11 + i}`);
const DELAY_MS = 2000;

describe('discovery from the cluster\'s EndpointSlices (stand-in API servers on loopback)', { timeout: 120_000 }, () => {
  let api: KubeApiStandIn;
  let daemon: Daemon;
  let spec: TempSpec;
  let dir = '';
  let port = 0;
  const logs: Array<Record<string, any>> = [];
  const held: Socket[] = [];

  const servers = (): ServerSnapshot[] => daemon.snapshot().listeners[0].servers;
  const discovery = () => daemon.snapshot().discovery!;
  const lists = () => api.requests.filter((r) => r.kind === 'list');
  const addresses = () => servers().filter((s) => !s.removed).map((s) => s.address).sort();

  before(async () => {
    api = await KubeApiStandIn.start([A, B, C, D], { sans: ['127.0.0.1'], bookmarkEveryMs: 300 });
    api.setEndpoints([A, B, C], { port: api.port });
    api.setOtherSlice(['127.9.9.9']);
    dir = await mkdtemp(join(tmpdir(), 'ce-discovery-'));
    port = await freePort();
    // The kubeconfig names the endpoint itself, which is not up yet when serve starts: the seed node is asked first.
    await api.writeKubeconfig(join(dir, 'kubeconfig'), `https://127.0.0.1:${port}`);
    const raw = {
      cluster: { name: 'discovery' },
      endpoint: '127.0.0.1',
      controlPlane: [{ name: 'cp-01', address: A }],
      listeners: [{ name: 'kubernetes', port, targetPort: api.port, targets: 'controlPlane' }],
      healthCheck: { interval: '200ms', fastInterval: '100ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 2 },
      deregistrationDelay: `${DELAY_MS / 1000}s`,
      balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${await freePort()}`, watch: false },
      discovery: { kubernetes: { kubeconfig: join(dir, 'kubeconfig') } },
    };
    spec = await tempSpec(raw);
    const parsed = parseSpec(stringify(raw), spec.path);
    assert.ok(parsed.spec, JSON.stringify(parsed.problems));
    const sink = new Writable({ write(chunk, _encoding, done) { for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line)); done(); } });
    const logger = createLogger({ pretty: false, level: 'debug', destination: sink });
    const membership = new KubernetesMembership({ spec: parsed.spec, logger, timing: { listTimeoutMs: 1000, watchSeconds: 60, stallMs: 1500, backoffMs: 100, maxBackoffMs: 400 } });
    daemon = await startDaemon({ specPath: spec.path, logger, membership });
  });

  after(async () => {
    for (const socket of held) socket.destroy();
    await daemon?.destroy();
    await api?.close();
    await spec?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the kubernetes slices through the seed node: the cluster\'s API servers become members, named from the spec or their address', async () => {
    assert.ok(await waitFor(() => addresses().length === 3, 5000), `members: ${JSON.stringify(addresses())}`);
    assert.deepEqual(addresses(), [A, B, C].sort(), 'the other service\'s slice is not read');
    assert.equal(lists()[0].host, A, 'the first list goes to the spec\'s controlPlane node (the endpoint is not up yet)');
    assert.deepEqual(servers().map((s) => s.name).sort(), ['cp-01', `ip-${B.replace(/\./g, '-')}`, `ip-${C.replace(/\./g, '-')}`].sort());
    assert.ok(await waitFor(() => servers().every((s) => s.state === 'up'), 5000));
    const d = discovery();
    assert.equal(d.state, 'synced');
    assert.equal(d.nodes.length, 3);
    assert.equal(d.lists, 1);
  });

  it('watches from the list\'s resourceVersion with bookmarks: a node that appears is added and checked before it gets traffic', async () => {
    const watch = api.requests.find((r) => r.kind === 'watch');
    assert.ok(watch, 'a watch followed the list');
    assert.equal(watch.resourceVersion, lists()[0].resourceVersion ?? watch.resourceVersion);
    assert.equal(watch.bookmarks, true, 'allowWatchBookmarks');
    assert.ok(watch.timeoutSeconds !== undefined && watch.timeoutSeconds >= 60);
    api.setEndpoints([A, B, C, D], { port: api.port });
    assert.ok(await waitFor(() => addresses().includes(D), 3000), 'D added by the watch');
    assert.equal(lists().length, 1, 'no new list: the watch carried it');
    assert.ok(await waitFor(() => servers().find((s) => s.address === D)?.state === 'up', 3000));
    const firstState = logs.find((l) => l.event === 'server-state' && l.address === `${D}:${api.port}`);
    assert.equal(firstState?.from, 'checking', 'a discovered node enters as checking');
    assert.ok(logs.some((l) => l.event === 'discovery' && /appeared/.test(l.msg)), 'the log says it appeared');
  });

  it('bookmarks carry the resourceVersion forward past changes the client does not watch', async () => {
    api.setOtherSlice(['127.9.9.8']);
    const current = api.resourceVersion;
    assert.ok(await waitFor(() => discovery().resourceVersion === current, 3000), `status resourceVersion ${discovery().resourceVersion}, the API's ${current}`);
  });

  it('a node the cluster no longer lists is drained for deregistrationDelay: listed as removed, its connections kept until then', async () => {
    // Steer one connection to C: the others drained for a moment (operator drain), then back.
    for (const name of servers().filter((s) => s.address !== C).map((s) => s.name)) daemon.setAdminState({ server: name }, 'drain');
    // A TLS session C has answered (one it had not answered would be moved to another node, not closed).
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'kubernetes', rejectUnauthorized: false });
    held.push(socket);
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
    let closedAt = 0;
    socket.on('close', () => { closedAt = Date.now(); });
    socket.on('error', () => undefined);
    assert.ok(await waitFor(() => servers().find((s) => s.address === C)?.activeConnections === 1, 2000), 'the connection is on C');
    for (const name of servers().filter((s) => s.address !== C).map((s) => s.name)) daemon.setAdminState({ server: name }, 'ready');
    const removedAt = Date.now();
    api.setEndpoints([A, B, D], { port: api.port });
    assert.ok(await waitFor(() => servers().find((s) => s.address === C)?.removed === true, 3000), 'C is listed as removed');
    const c = servers().find((s) => s.address === C)!;
    assert.ok(c.drainDeadline !== undefined && Math.abs(c.drainDeadline - (removedAt + DELAY_MS)) < 1000, `drain deadline ${c.drainDeadline! - removedAt} ms after removal`);
    await new Promise((r) => setTimeout(r, DELAY_MS - 700));
    assert.equal(closedAt, 0, 'the connection is still open before the deadline');
    assert.ok(await waitFor(() => closedAt > 0, 3000), 'closed at the deadline');
    assert.ok(closedAt - removedAt >= DELAY_MS - 300, `closed ${closedAt - removedAt} ms after removal`);
    assert.ok(await waitFor(() => !servers().some((s) => s.address === C), 3000), 'and gone from the list after it');
  });

  it('an expired resourceVersion (410 Gone) means a new list, not an error', async () => {
    const listsBefore = lists().length;
    const errorsBefore = discovery().errors;
    // The watch is cut; before the client is back, changes it does not watch move the API on, C comes back, and
    // the history is compacted: the client's resourceVersion is older than anything the API still has.
    api.endWatches();
    api.setOtherSlice(['127.9.9.7']);
    api.setEndpoints([A, B, C, D], { port: api.port });
    api.setOtherSlice(['127.9.9.6']);
    api.compact();
    assert.ok(await waitFor(() => lists().length > listsBefore, 3000), 'listed again');
    assert.ok(await waitFor(() => addresses().includes(C), 3000), 'the change made meanwhile is seen');
    assert.equal(discovery().errors, errorsBefore, 'not counted as a failure');
    assert.equal(discovery().state, 'synced');
  });

  it('while the API cannot be reached the last known members stay (fail static), and status, metrics and the log say so', async () => {
    const before = addresses();
    const warned = logs.filter((l) => l.event === 'discovery' && l.state === 'failing').length;
    api.hang(true);
    api.endWatches();
    assert.ok(await waitFor(() => discovery().state === 'failing', 5000), `state ${discovery().state}`);
    assert.deepEqual(addresses(), before, 'members kept');
    assert.ok(servers().every((s) => s.state === 'up'), 'and still served');
    assert.match(discovery().lastError ?? '', /no answer|sent nothing/);
    const metrics = await (await fetch(`${daemon.adminUrl}/metrics`)).text();
    assert.match(metrics, /cluster_endpoint_discovery_up\{source="kubernetes"\} 0/);
    assert.match(metrics, /cluster_endpoint_discovery_nodes\{source="kubernetes"\} 4/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(logs.filter((l) => l.event === 'discovery' && l.state === 'failing').length, warned + 1, 'one warning for the outage, not one per retry');
    // An empty answer is no live cluster's: it is not taken either.
    api.hang(false);
    api.setEndpoints([], { port: api.port });
    assert.ok(await waitFor(() => discovery().state === 'synced', 5000));
    assert.deepEqual(addresses(), before, 'a list with no API server is not taken');
    assert.ok(logs.some((l) => l.event === 'discovery' && l.servers === 0));
    api.setEndpoints([A, B, C, D], { port: api.port });
  });

  it('an API server that goes away: discovery moves to another one and follows changes from there', async () => {
    const from = discovery().server!;
    const host = new URL(from).hostname;
    await api.stop([host]);
    api.setEndpoints([A, B, C, D].filter((a) => a !== host).concat([]), { port: api.port });
    assert.ok(await waitFor(() => discovery().server !== from && discovery().state === 'synced', 5000), `now at ${discovery().server} (${discovery().state})`);
    assert.ok(await waitFor(() => !addresses().includes(host), 3000), 'the change made after is followed');
    await api.restart([host]);
  });
});

describe('discovery: a kubeconfig that cannot be loaded stops serve at start', { timeout: 90_000 }, () => {
  it('exits 2 with DISCOVERY, naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ce-discovery-bad-'));
    try {
      const spec = await tempSpec({
        cluster: { name: 'bad' }, endpoint: '127.0.0.1', controlPlane: [{ name: 'cp-01', address: '127.0.0.1' }],
        listeners: [{ name: 'kubernetes', port: await freePort(), targetPort: 6443, targets: 'controlPlane' }],
        balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${await freePort()}`, watch: false },
        discovery: { kubernetes: { kubeconfig: join(dir, 'missing') } },
      });
      const result = await runCli(['serve', '-c', spec.path], { timeoutMs: 60_000 });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /discovery\.kubernetes: cannot load .*missing/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      await spec.cleanup();
      await assert.rejects(loadCredentials(undefined), /service account|cluster/, 'no kubeconfig outside a pod');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('probe and doctor report the drift between the spec and the cluster\'s API servers', { timeout: 120_000 }, () => {
  it('nodes the cluster lists and the spec does not, and spec nodes the cluster does not list', async () => {
    const [a, b, c] = [0, 1, 2].map((i) => `127.0.${base}.${41 + i}`);
    const api = await KubeApiStandIn.start([a, b, c], { sans: ['127.0.0.1'] });
    const dir = await mkdtemp(join(tmpdir(), 'ce-drift-'));
    try {
      api.setEndpoints([a, b], { port: api.port });
      await api.writeKubeconfig(join(dir, 'kubeconfig'), `https://127.0.0.1:${await freePort()}`);
      const spec = await tempSpec({
        cluster: { name: 'drift' }, endpoint: '127.0.0.1',
        controlPlane: [{ name: 'cp-01', address: a }, { name: 'cp-03', address: c }],
        listeners: [{ name: 'kubernetes', port: await freePort(), targetPort: api.port, targets: 'controlPlane' }],
        balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${await freePort()}`, watch: false },
        discovery: { kubernetes: { kubeconfig: join(dir, 'kubeconfig') } },
      });
      const doctor = await runCli(['doctor', spec.path, '--json', '--no-engines'], { timeoutMs: 60_000 });
      const findings = (JSON.parse(doctor.stdout) as { findings: Array<{ rule: string; message: string }> }).findings.filter((f) => f.rule === 'spec/cluster-drift');
      assert.equal(findings.length, 2, doctor.stdout);
      assert.ok(findings.some((f) => f.message.includes(`lists the API server ${b}`)), 'the node the spec lacks');
      assert.ok(findings.some((f) => f.message.includes(`controlPlane cp-03 (${c}) is not among`)), 'the node the cluster lacks');
      const probe = await runCli(['probe', '-c', spec.path, '--json', '--timeout', '500ms'], { timeoutMs: 60_000 });
      const report = JSON.parse(probe.stdout) as { cluster: { unlisted: Array<{ address: string }>; missing: Array<{ name: string }>; server: string }; warnings: string[] };
      assert.deepEqual(report.cluster.unlisted.map((s) => s.address), [b]);
      assert.deepEqual(report.cluster.missing.map((n) => n.name), ['cp-03']);
      assert.equal(new URL(report.cluster.server).hostname, a, 'asked through the spec\'s first node');
      assert.ok(report.warnings.some((w) => w.includes(b)));
      await spec.cleanup();
    } finally {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
