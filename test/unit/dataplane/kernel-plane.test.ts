// The kernel data plane's decisions without root: membership → plan, retries with back-off, the table compared
// with what it should be, and passive health (refusals, unanswered SYNs, unanswered flows of a server marked
// down), through a fake engine that records what would be applied. The real engines are driven by the namespace
// tests (test/integration/kernel/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelDataPlane } from '../../../src/dataplane/kernel/index.js';
import { tableLock } from '../../../src/dataplane/kernel/neighbours.js';
import type { UserError } from '../../../src/errors.js';
import { takeHostLock } from '../../../src/host-lock.js';
import type { FlowRead, KernelEngine, RefusalEvents, TableState } from '../../../src/dataplane/kernel/engines.js';
import { listenerChain, markOf, serverChain, serverIds, type KernelPlan } from '../../../src/dataplane/kernel/ruleset.js';
import type { DataPlaneListener } from '../../../src/dataplane/types.js';
import type { Member } from '../../../src/membership/member.js';
import { silentLogger } from '../../../src/log.js';
import { parseSpec } from '../../../src/spec/load.js';
import type { Spec } from '../../../src/spec/types.js';

const waitFor = async (condition: () => boolean, what: string, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** What the data plane reads of a Member, with state and admin state set by the test. */
class FakeMember {
  readonly key: string;
  state: 'checking' | 'up' | 'down' = 'up';
  adminState: 'ready' | 'drain' | 'maint' = 'ready';
  removed = false;
  weight = 1;
  port = 6443;
  readonly failures: Array<{ reason: string; latencyMs: number }> = [];
  constructor(readonly listener: string, readonly name: string, readonly address: string) {
    this.key = `${listener}|${address}|6443`;
  }
  get eligible(): boolean { return this.state === 'up' && this.adminState === 'ready' && !this.removed; }
  get failOpenCandidate(): boolean { return this.adminState !== 'maint' && !this.removed; }
  observeFailure(reason: string, latencyMs: number): void { this.failures.push({ reason, latencyMs }); }
}

const OWN = 'cluster_endpoint_t';

class FakeEngine implements KernelEngine {
  plans: KernelPlan[] = [];
  /** The host's tables of ours by name; this spec's is OWN. */
  readonly tables = new Map<string, TableState>();
  flows: FlowRead = { open: new Map(), unanswered: [] };
  deleted: Array<{ mark?: number; unansweredOnly?: boolean }> = [];
  deletedTables: string[] = [];
  /** Applies that fail before one succeeds. */
  failNext = 0;
  events: RefusalEvents | undefined;

  get table(): TableState | undefined { return this.tables.get(OWN); }
  set table(state: TableState | undefined) { if (state) this.tables.set(OWN, state); else this.tables.delete(OWN); }

  async readTable(name: string): Promise<TableState | undefined> { return this.tables.get(name); }
  async listTables(): Promise<string[]> { return [...this.tables.keys()]; }
  async apply(plan: KernelPlan): Promise<void> {
    if (this.failNext > 0) { this.failNext--; throw new Error('nft: Could not process rule: No buffer space available'); }
    this.plans.push(plan);
    const members = new Map<string, string[]>();
    for (const l of plan.listeners) if (l.members.length) members.set(listenerChain(l.name), [...new Set(l.members.map((m) => serverChain(m.id)))]);
    this.tables.set(plan.table, { chains: plan.servers.map((s) => serverChain(s.id)), counters: new Map(), members, listens: [{ family: 4, address: plan.bind, port: 6443 }] });
    for (const name of plan.replaces ?? []) this.tables.delete(name);
  }
  async deleteTable(name: string): Promise<boolean> { this.deletedTables.push(name); return this.tables.delete(name); }
  async readFlows(): Promise<FlowRead> { return this.flows; }
  async deleteFlows(mark: number, options: { unansweredOnly?: boolean } = {}): Promise<number> { this.deleted.push({ mark, ...options }); return 1; }
  watchRefusals(events: RefusalEvents): { stop(): void } { this.events = events; return { stop: () => { this.events = undefined; } }; }

  get last(): KernelPlan { return this.plans.at(-1)!; }
  membersOf(listener = 'kubernetes'): string[] { return this.last.listeners.find((l) => l.name === listener)!.members.map((m) => m.address).sort(); }
}

function spec(extra = ''): Spec {
  const { spec, problems } = parseSpec(`cluster: { name: t }
endpoint: 192.0.2.10
controlPlane:
  - { name: cp-01, address: 10.0.2.11 }
  - { name: cp-02, address: 10.0.2.12 }
  - { name: cp-03, address: 10.0.2.13 }
listeners: [{ name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }]
healthCheck: { interval: 1s, timeout: 100ms, unhealthyThreshold: 2 }
balancer: { mode: kernel, bind: 192.0.2.10${extra} }
`);
  assert.ok(spec, JSON.stringify(problems));
  return spec;
}

async function started(options: { failNext?: number; extra?: string; engine?: FakeEngine } = {}) {
  const engine = options.engine ?? new FakeEngine();
  engine.failNext = options.failNext ?? 0;
  const s = spec(options.extra);
  const servers = s.listeners[0].servers.map((t) => new FakeMember('kubernetes', t.name, t.address));
  const listeners: DataPlaneListener[] = [{ listener: s.listeners[0], members: servers as unknown as Member[] }];
  const plane = new KernelDataPlane(silentLogger, { cluster: s.cluster.name, specPath: '/etc/cluster-endpoint/t.yaml' }, engine);
  return { engine, servers, plane, apply: () => plane.apply(s, listeners), byName: (name: string) => servers.find((x) => x.name === name)! };
}

const markOfServer = (server: FakeMember) => markOf(serverIds([server.key]).get(server.key)!);

test('membership → plan: eligible servers are members; down, drained and maintenance ones are out but still counted', async () => {
  const { engine, plane, apply, byName } = await started();
  await apply();
  assert.deepEqual(engine.membersOf(), ['10.0.2.11', '10.0.2.12', '10.0.2.13']);
  byName('cp-02').state = 'down';
  byName('cp-03').adminState = 'drain';
  plane.membershipChanged();
  await waitFor(() => engine.plans.length === 2, 'a second plan');
  assert.deepEqual(engine.membersOf(), ['10.0.2.11']);
  assert.equal(engine.last.servers.length, 3, 'every server keeps its chain and counters');
  await plane.destroy();
});

test('fail-open: with none eligible every server not in maintenance is a member; reject leaves none', async () => {
  for (const [whenAllDown, expected] of [['fail-open', ['10.0.2.11', '10.0.2.12']], ['reject', []]] as const) {
    const { engine, plane, apply, servers, byName } = await started({ extra: `, whenAllDown: ${whenAllDown}` });
    await apply();
    for (const s of servers) s.state = 'down';
    byName('cp-03').adminState = 'maint';
    plane.membershipChanged();
    await waitFor(() => engine.plans.length === 2, 'a second plan');
    assert.deepEqual(engine.membersOf(), expected, whenAllDown);
    await plane.destroy();
  }
});

test('changes in one tick make one transaction', async () => {
  const { engine, plane, apply, servers } = await started();
  await apply();
  for (const s of servers.slice(0, 2)) { s.state = 'down'; plane.membershipChanged(); }
  await waitFor(() => engine.plans.length >= 2, 'a second plan');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(engine.plans.length, 2);
  assert.deepEqual(engine.membersOf(), ['10.0.2.13']);
  await plane.destroy();
});

test('a failed apply is retried with back-off until it goes through; a reload that nft refuses throws and keeps the old state', async () => {
  const { engine, plane, apply, byName } = await started();
  await apply();
  engine.failNext = 2;
  byName('cp-01').state = 'down';
  plane.membershipChanged();
  // Retries after 250 ms, then 500 ms.
  await waitFor(() => engine.plans.length === 2, 'the retried apply', 3000);
  assert.deepEqual(engine.membersOf(), ['10.0.2.12', '10.0.2.13']);
  engine.failNext = 1;
  await assert.rejects(apply(), /No buffer space/);
  await plane.destroy();
});

test('the table is compared with what it should be: a table changed or removed outside serve is applied again', async () => {
  const { engine, plane, apply } = await started();
  await apply();
  assert.equal(engine.plans.length, 1);
  await plane.activeFlows();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(engine.plans.length, 1, 'an unchanged table is left alone');
  engine.table!.members.set(listenerChain('kubernetes'), [serverChain('abcdef')]);
  await plane.activeFlows();
  await waitFor(() => engine.plans.length === 2, 'a re-apply after a changed table');
  engine.table = undefined;
  await plane.activeFlows();
  await waitFor(() => engine.plans.length === 3, 'a re-apply after the table was removed');
  await plane.destroy();
});

test('passive health: a refused flow counts as a failed check of its server; unknown marks are ignored', async () => {
  const { engine, plane, apply, byName } = await started();
  await apply();
  engine.events!.refused(markOfServer(byName('cp-02')));
  engine.events!.refused(0xcc123456);
  assert.deepEqual(byName('cp-02').failures.map((f) => f.reason), ['kernel connect refused (a reset to the SYN)']);
  assert.equal(plane.memberCounters(byName('cp-02') as unknown as Member).connectFailures, 1, 'counted as a connect error of the member');
  assert.equal(byName('cp-01').failures.length + byName('cp-03').failures.length, 0);
  await plane.destroy();
});

test('passive health: a SYN left unanswered past healthCheck.timeout counts once; one answered in time does not', async () => {
  const { engine, plane, apply, byName } = await started();
  await apply();
  const cp01 = markOfServer(byName('cp-01'));
  const cp02 = markOfServer(byName('cp-02'));
  await plane.activeFlows(); // the read that apply started
  engine.flows = { open: new Map(), unanswered: [{ mark: cp02, key: '1/10.0.1.2/40000' }, { mark: cp01, key: '2/10.0.1.2/40001' }] };
  await plane.activeFlows();
  // cp-01's SYN is answered before the timeout (it leaves the unanswered list), cp-02's is not.
  engine.flows = { open: new Map(), unanswered: [{ mark: cp02, key: '1/10.0.1.2/40000' }] };
  await waitFor(() => byName('cp-02').failures.length === 1, 'a failure after the 100 ms timeout');
  assert.match(byName('cp-02').failures[0].reason, /no answer to the SYN within 100ms/);
  assert.ok(byName('cp-02').failures[0].latencyMs >= 100);
  await plane.activeFlows();
  await new Promise((r) => setTimeout(r, 150));
  await plane.activeFlows();
  assert.equal(byName('cp-02').failures.length, 1, 'one flow counts once');
  assert.equal(byName('cp-01').failures.length, 0);
  await plane.destroy();
});

test('a server marked down takes its unanswered flows out of conntrack (their SYN retransmissions move); drained ones keep theirs', async () => {
  const { engine, plane, apply, byName } = await started();
  await apply();
  byName('cp-03').adminState = 'drain';
  byName('cp-02').state = 'down';
  plane.membershipChanged();
  await waitFor(() => engine.deleted.length > 0, 'a delete');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(engine.deleted, [{ mark: markOfServer(byName('cp-02')), unansweredOnly: true }]);
  await plane.destroy();
});

/** A table of another endpoint on the host: its listens and one server chain. */
const neighbour = (address: string, port: number, id: string): TableState => ({
  chains: ['nat_prerouting', serverChain(id), `c_${id}`], counters: new Map(), members: new Map([['l_kubernetes', [serverChain(id)]]]), listens: [{ family: 4, address, port }],
});

test('another cluster\'s table on the host: left alone, its server ids avoided; stop removes only our table and our servers\' flows', async () => {
  const engine = new FakeEngine();
  const cp01 = new FakeMember('kubernetes', 'cp-01', '10.0.2.11');
  // Same listener name and server as ours (two endpoints in front of one backend): the natural id is the other's.
  engine.tables.set('cluster_endpoint_other', neighbour('192.0.2.10', 7443, serverIds([cp01.key]).get(cp01.key)!));
  const { plane, apply } = await started({ engine });
  await apply();
  assert.equal(engine.last.replaces, undefined);
  assert.equal(engine.last.table, OWN);
  const ours = engine.last.servers.map((s) => s.id);
  assert.ok(!ours.includes(serverIds([cp01.key]).get(cp01.key)!), 'no mark names the other endpoint\'s server');
  assert.equal(new Set(ours).size, 3);
  await plane.close();
  assert.deepEqual(engine.deletedTables, [OWN]);
  assert.deepEqual(new Set(engine.deleted.map((d) => d.mark)), new Set(ours.map(markOf)));
  assert.ok(engine.tables.has('cluster_endpoint_other'));
});

test('a table no serve runs that catches our address and port (an earlier version\'s) is adopted, then replaced in our first transaction', async () => {
  const engine = new FakeEngine();
  engine.tables.set('cluster_endpoint', neighbour('192.0.2.10', 6443, '0a0001'));
  const { plane, apply } = await started({ engine });
  await apply();
  assert.equal(engine.plans.length, 0, 'adopted: it serves until our checks have a verdict');
  plane.membershipChanged();
  await waitFor(() => engine.plans.length === 1, 'the first transaction');
  assert.deepEqual(engine.last.replaces, ['cluster_endpoint']);
  assert.ok(!engine.tables.has('cluster_endpoint') && engine.tables.has(OWN));
  await plane.destroy();
});

test('refused clearly: a live serve\'s table on our address and port, and a second serve of the same cluster; neither touches anything', async () => {
  const engine = new FakeEngine();
  engine.tables.set('cluster_endpoint_beta', neighbour('192.0.2.10', 6443, '0b0001'));
  const held = await takeHostLock(tableLock('cluster_endpoint_beta'), '/etc/cluster-endpoint/beta.yaml');
  assert.ok('lock' in held);
  try {
    const { apply } = await started({ engine });
    await assert.rejects(apply(), (error: UserError) => {
      assert.equal(error.code, 'KERNEL');
      assert.equal(error.exitCode, 2);
      assert.match(error.message, new RegExp(`listener kubernetes \\(192\\.0\\.2\\.10:6443\\) is already served on this host by serve pid ${process.pid} \\(/etc/cluster-endpoint/beta\\.yaml\\), through the nftables table inet cluster_endpoint_beta`));
      assert.match(error.hint!, /its own listener ports, or its own balancer\.bind/);
      return true;
    });
    assert.equal(engine.plans.length, 0);
  } finally {
    await held.lock.release();
  }
  engine.tables.clear();
  const first = await started({ engine });
  await first.apply();
  const second = await started({ engine });
  await assert.rejects(second.apply(), /the nftables table inet cluster_endpoint_t is in use by serve pid \d+ \(\/etc\/cluster-endpoint\/t\.yaml\): cluster t is already served in kernel mode on this host/);
  await second.plane.destroy();
  assert.ok(engine.tables.has(OWN), 'the refused serve leaves the first one\'s table');
  await first.plane.destroy();
});
