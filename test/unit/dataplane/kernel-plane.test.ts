// The kernel data plane's decisions without root: membership → plan, retries with back-off, the table compared
// with what it should be, and passive health (refusals, unanswered SYNs, unanswered flows of a server marked
// down), through a fake engine that records what would be applied. The real engines are driven by the namespace
// tests (test/integration/kernel/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelDataPlane } from '../../../src/dataplane/kernel/index.js';
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

class FakeEngine implements KernelEngine {
  plans: KernelPlan[] = [];
  table: TableState | undefined;
  flows: FlowRead = { open: new Map(), unanswered: [] };
  deleted: Array<{ mark?: number; unansweredOnly?: boolean }> = [];
  /** Applies that fail before one succeeds. */
  failNext = 0;
  events: RefusalEvents | undefined;

  async readTable(): Promise<TableState | undefined> { return this.table; }
  async apply(plan: KernelPlan): Promise<void> {
    if (this.failNext > 0) { this.failNext--; throw new Error('nft: Could not process rule: No buffer space available'); }
    this.plans.push(plan);
    const members = new Map<string, string[]>();
    for (const l of plan.listeners) if (l.members.length) members.set(listenerChain(l.name), [...new Set(l.members.map((m) => serverChain(m.id)))]);
    this.table = { chains: [], counters: new Map(), members };
  }
  async deleteTable(): Promise<boolean> { const had = this.table !== undefined; this.table = undefined; return had; }
  async readFlows(): Promise<FlowRead> { return this.flows; }
  async deleteFlows(mark?: number, options: { unansweredOnly?: boolean } = {}): Promise<number> { this.deleted.push({ mark, ...options }); return 1; }
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

async function started(options: { failNext?: number; extra?: string } = {}) {
  const engine = new FakeEngine();
  engine.failNext = options.failNext ?? 0;
  const s = spec(options.extra);
  const servers = s.listeners[0].servers.map((t) => new FakeMember('kubernetes', t.name, t.address));
  const listeners: DataPlaneListener[] = [{ listener: s.listeners[0], members: servers as unknown as Member[] }];
  const plane = new KernelDataPlane(silentLogger, engine);
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
