// The demo's files: endpoint.yaml passes the real validator (and `cluster-endpoint validate`), the kubeconfig
// points kubectl at the balancer with the CA, and the state-change lines read as documented.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEMO_NODE_ADDRESSES, demoKubeconfig, demoSpecYaml, planLayout, type DemoLayout } from '../../../src/demo/layout.js';
import { pickPort } from '../../../src/demo/ports.js';
import { countUp, describeChanges, formatStatus } from '../../../src/demo/report.js';
import type { ServerSnapshot, StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { parseSpec } from '../../../src/spec/load.js';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';

const LAYOUT: DemoLayout = {
  endpoint: '127.0.0.1', kubernetesPort: 6443, talosPort: 50000, adminPort: 8404, singleAddress: false, notes: [],
  nodes: ['cp-01', 'cp-02', 'cp-03'].map((name, i) => ({ name, address: `127.0.0.3${i + 1}`, kubernetesPort: 6443, talosPort: 50000 })),
};

describe('demo layout', () => {
  it('plans loopback aliases on this machine and free ports when asked', async () => {
    const layout = await planLayout({ freePorts: true });
    assert.deepEqual(layout.nodes.map((n) => `${n.name} ${n.address}`), ['cp-01 127.0.0.31', 'cp-02 127.0.0.32', 'cp-03 127.0.0.33']);
    assert.equal(new Set(layout.nodes.map((n) => n.kubernetesPort)).size, 1, 'one target port per listener, as the spec has');
    assert.notEqual(layout.nodes[0].kubernetesPort, layout.nodes[0].talosPort);
    const balancerPorts = new Set([layout.kubernetesPort, layout.talosPort, layout.adminPort]);
    assert.equal(balancerPorts.size, 3, 'the balancer listeners and the admin page get distinct ports');
    assert.deepEqual(layout.notes.filter((n) => n.includes('in use')), [], '--free-ports never notes a busy default');
  });

  it('takes the preferred port when it is free and another one when it is not', async () => {
    const port = await freePort();
    assert.equal(await pickPort(['127.0.0.1', '127.0.0.31'], port), port);
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.31', resolve));
    try {
      const other = await pickPort(['127.0.0.1', '127.0.0.31'], port);
      assert.notEqual(other, port, 'busy on one of the hosts');
      // Free on 127.0.0.1, but already promised to another listener of the demo.
      assert.notEqual(await pickPort(['127.0.0.1'], port, new Set([port])), port);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('falls back to distinct ports on 127.0.0.1 where the node addresses cannot be bound, and says how to add them', async () => {
    // 203.0.113.7 (TEST-NET-3) is on no interface here: binding it fails without sending anything.
    const layout = await planLayout({ freePorts: true, nodeAddresses: [...DEMO_NODE_ADDRESSES.slice(0, 2), '203.0.113.7'] });
    assert.equal(layout.singleAddress, true);
    assert.deepEqual(layout.nodes.map((n) => n.address), ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    const ports = [layout.kubernetesPort, layout.talosPort, layout.adminPort, ...layout.nodes.flatMap((n) => [n.kubernetesPort, n.talosPort])];
    assert.equal(new Set(ports).size, ports.length, `every port on 127.0.0.1 is distinct: ${ports.join(', ')}`);
    const note = layout.notes.find((n) => n.includes('cannot bind'));
    assert.ok(note, layout.notes.join('\n'));
    assert.match(note, /cannot bind 127\.0\.0\.31, 127\.0\.0\.32, 203\.0\.113\.7, so the nodes share 127\.0\.0\.1 on ports of their own/);
    assert.match(note, process.platform === 'darwin' ? /sudo ifconfig lo0 alias 203\.0\.113\.7 up/ : /sudo ip addr add 203\.0\.113\.7\/32 dev lo/);
  });

  it('writes a spec the validator accepts, with fast https and tls checks', async () => {
    const result = parseSpec(demoSpecYaml(LAYOUT, '/tmp/x/ca.crt'));
    assert.deepEqual(result.problems.filter((p) => p.severity === 'error'), []);
    const spec = result.spec!;
    assert.equal(spec.balancer.bind, '127.0.0.1');
    assert.deepEqual(spec.balancer.admin, { host: '127.0.0.1', port: 8404 });
    const [kubernetes, talos] = spec.listeners;
    assert.equal(kubernetes.name, 'kubernetes');
    assert.equal(kubernetes.healthCheck.type, 'https');
    assert.equal(kubernetes.healthCheck.path, '/readyz');
    assert.equal(kubernetes.healthCheck.intervalMs, 1000);
    assert.equal(kubernetes.healthCheck.fastIntervalMs, 500);
    assert.equal(kubernetes.healthCheck.caFile, '/tmp/x/ca.crt');
    assert.deepEqual(kubernetes.servers.map((s) => `${s.name} ${s.address}:${s.port}`), ['cp-01 127.0.0.31:6443', 'cp-02 127.0.0.32:6443', 'cp-03 127.0.0.33:6443']);
    assert.equal(talos.healthCheck.type, 'tls');
    assert.equal(talos.port, 50000);
  });

  it('passes `cluster-endpoint validate`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-layout-'));
    try {
      await writeFile(join(dir, 'endpoint.yaml'), demoSpecYaml(LAYOUT, join(dir, 'ca.crt')));
      const result = await runCli(['validate', '-c', join(dir, 'endpoint.yaml')]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /valid — 2 listener\(s\) \(kubernetes:6443, talos:50000\), 3 control-plane node\(s\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a kubeconfig that reaches the balancer and trusts the demo CA', () => {
    const config = parse(demoKubeconfig(LAYOUT, '/tmp/x/ca.crt')) as { clusters: Array<{ cluster: Record<string, string> }>; 'current-context': string };
    assert.equal(config.clusters[0].cluster.server, 'https://127.0.0.1:6443');
    assert.equal(config.clusters[0].cluster['certificate-authority'], '/tmp/x/ca.crt');
    assert.equal(config['current-context'], 'demo');
  });
});

describe('demo report', () => {
  const server = (name: string, state: ServerSnapshot['state'], adminState: ServerSnapshot['adminState'] = 'ready', stateReason = ''): ServerSnapshot => ({
    name, address: '127.0.0.31', port: 6443, state, adminState, stateSince: 0, stateReason, weight: 1, activeConnections: 0, totalConnections: 0,
    connectFailures: 0, redispatches: 0, bytesIn: 0, bytesOut: 0, checksFailed: 0, downTransitions: 0,
  });
  const snapshot = (servers: ServerSnapshot[]): StatusSnapshot => ({
    version: '0', pid: 1, startedAt: 0, now: 0, spec: { source: 'x', cluster: 'demo', endpoint: '127.0.0.1', loadedAt: 0 },
    listeners: [{ name: 'kubernetes', bind: '127.0.0.1', port: 6443, targetPort: 6443, balance: 'roundrobin', checkType: 'https', activeConnections: 0, totalConnections: 0, failedConnections: 0, bytesIn: 0, bytesOut: 0, servers }],
  });

  it('prints state and admin changes with the reason', () => {
    const before = snapshot([server('cp-01', 'up'), server('cp-02', 'up')]);
    const after = snapshot([server('cp-01', 'up', 'drain'), server('cp-02', 'down', 'ready', 'connect ECONNREFUSED, 2/2 failures')]);
    assert.deepEqual(describeChanges(before, after), [
      'cp-01 kubernetes: ready → drain (operator)',
      'cp-02 kubernetes: up → down (connect ECONNREFUSED, 2/2 failures)',
    ]);
    assert.deepEqual(describeChanges(after, after), []);
  });

  it('reports reloads, and the problems of a failed one', () => {
    const base = snapshot([server('cp-01', 'up')]);
    const ok = { ...base, lastReload: { at: 1, ok: true, message: 'reloaded /x/endpoint.yaml' } };
    assert.deepEqual(describeChanges(base, ok), ['spec reloaded /x/endpoint.yaml']);
    assert.deepEqual(describeChanges(ok, ok), []);
    const failed = { ...base, lastReload: { at: 2, ok: false, message: '/x/endpoint.yaml is not valid', problems: ['listeners[0].port: 0 is out of range'] } };
    assert.deepEqual(describeChanges(ok, failed), ['reload failed: /x/endpoint.yaml is not valid\n  listeners[0].port: 0 is out of range']);
  });

  it('treats servers seen for the first time as coming from checking', () => {
    assert.deepEqual(describeChanges(undefined, snapshot([server('cp-01', 'checking'), server('cp-02', 'up', 'ready', 'https 200, 2/2 successes')])), [
      'cp-02 kubernetes: checking → up (https 200, 2/2 successes)',
    ]);
  });

  it('counts up and ready servers and formats a status table', () => {
    const s = snapshot([server('cp-01', 'up'), server('cp-02', 'down'), server('cp-03', 'up', 'drain')]);
    assert.deepEqual(countUp(s, 'kubernetes'), { up: 1, total: 3 });
    const table = formatStatus(s, (name) => name !== 'cp-02');
    assert.match(table, /^listener\s+server\s+node\s+check\s+admin/);
    assert.match(table, /cp-02 127\.0\.0\.31:6443\s+stopped\s+down\s+ready/);
  });
});
