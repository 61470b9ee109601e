// The verdict and its causes (issue 22), on made-up observations: what a step's promise allows, which step
// a loss belongs to, and the line in the files the drill points at.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientEvent } from '../../../src/rehearse/client.js';
import { findCauses } from '../../../src/rehearse/causes.js';
import { classify } from '../../../src/rehearse/inputs.js';
import type { Observations, StepRecord } from '../../../src/rehearse/observe.js';
import { planRehearsal } from '../../../src/rehearse/plan.js';
import { reportJson, setupText } from '../../../src/rehearse/report.js';
import { vrrpStateOf } from '../../../src/rehearse/run.js';
import { attribute, judge } from '../../../src/rehearse/verdict.js';

const HAPROXY = `defaults
  mode tcp
  timeout client 1h
  timeout server 1h
  timeout tunnel 20s
frontend api
  bind :6443
  default_backend api
backend api
  option httpchk GET /readyz HTTP/1.1
  default-server check inter 1s fall 2 rise 2 check-ssl verify none
  server cp-01 10.0.0.31:6443 send-proxy
  server cp-02 10.0.0.32:6443 send-proxy
  server cp-03 10.0.0.33:6443 send-proxy
`;
const inputs = classify([{ path: 'haproxy.cfg', text: HAPROXY }]);
const plan = planRehearsal(inputs, { serve: false, idleCapMs: 45_000 });
const T = 1_000_000;

function observations(steps: StepRecord[], client: ClientEvent[], extra: Partial<Observations> = {}): Observations {
  return { startedAt: T, endedAt: T + 100_000, watchesOpenAt: T, client, nodes: [], logs: [], exits: [], holders: [], steps, interrupted: false, ...extra };
}
let id = 0;
const request = (at: number, ok: boolean, error?: string, ms = 20): ClientEvent => ({ e: 'request', api: 'kubernetes', id: id++, at, ms, ok, ...(error ? { error } : {}) });
const steady = (from: number, to: number, failing?: (at: number) => string | undefined) => {
  const out: ClientEvent[] = [];
  for (let at = from; at < to; at += 50) { const error = failing?.(at); out.push(request(at, !error, error)); }
  return out;
};

describe('what a step\'s promise allows', () => {
  const detect = plan.timing.nodeDetectMs;
  const crash: StepRecord = { name: 'node-crash', target: 'cp-02', startedAt: T, endedAt: T + 20_000, disturbedAt: T + 1000, restoredAt: T + 15_000, actions: [] };

  test('a crashed node: failures until its check can have taken it out are allowed, later ones are a loss', () => {
    const within = judge(plan, observations([crash], steady(T, T + 20_000, (at) => (at > T + 1000 && at < T + 1000 + detect ? 'timeout' : undefined))));
    assert.deepEqual(within.steps[0].losses, []);
    assert.equal(within.lost, false);
    const beyond = judge(plan, observations([crash], steady(T, T + 20_000, (at) => (at > T + 1000 && at < T + 14_000 ? 'timeout' : undefined))));
    assert.equal(beyond.lost, true);
    assert.match(beyond.steps[0].losses[0].text, /failed beyond what the promise allows \(timeout ×\d+/);
  });

  test('the baseline allows nothing, and a step in which no request finished lost everything', () => {
    const base: StepRecord = { name: 'baseline', startedAt: T, endedAt: T + 3000, actions: [] };
    assert.equal(judge(plan, observations([base], steady(T, T + 3000, (at) => (at === T + 1000 ? 'ECONNRESET' : undefined)))).lost, true);
    assert.match(judge(plan, observations([base], [])).steps[0].losses[0].text, /no request through the endpoint finished/);
  });

  test('a request still waiting when the next step disturbed something counts there', () => {
    const reboot: StepRecord = { name: 'node-reboot', target: 'cp-01', startedAt: T + 3000, endedAt: T + 10_000, disturbedAt: T + 3500, restoredAt: T + 9000, actions: [] };
    const pending = request(T + 2900, false, 'ECONNRESET', 700);
    const moved = attribute(observations([{ name: 'baseline', startedAt: T, endedAt: T + 3000, actions: [] }, reboot], [pending]));
    assert.equal((moved[0] as Extract<ClientEvent, { e: 'request' }>).at, T + 3500);
  });
});

describe('streams', () => {
  const open = (kind: 'watch' | 'exec', streamId: number, at: number, node: string): ClientEvent => ({ e: 'stream', kind, id: streamId, event: 'open', at, node });
  const cut = (streamId: number, at: number, idleMs: number, openedAt: number): ClientEvent => ({ e: 'stream', kind: 'watch', id: streamId, event: 'cut', at, reason: 'ECONNRESET', idleMs, openedAt });

  test('a watch cut after just the idle time a timeout line names is the idle step\'s loss, whatever step ran then', () => {
    const steps: StepRecord[] = [
      { name: 'node-crash', target: 'cp-01', startedAt: T, endedAt: T + 25_000, disturbedAt: T + 1000, restoredAt: T + 20_000, actions: [] },
      { name: 'idle', startedAt: T + 25_000, endedAt: T + 25_001, actions: [] },
    ];
    const client = [...steady(T, T + 25_000), open('watch', 0, T, 'cp-01'), cut(0, T + 20_000, 20_000, T), open('watch', 0, T + 20_200, 'cp-02')];
    const verdict = judge(plan, observations(steps, client));
    const idle = verdict.steps.find((s) => s.name === 'idle')!;
    assert.match(idle.losses[0]?.text ?? '', /1 watch\(es\) cut after 20\.0s idle/);
    assert.deepEqual(verdict.steps.find((s) => s.name === 'node-crash')!.losses, [], 'not the crash step\'s');
    const causes = findCauses(plan, inputs, verdict, observations(steps, client), []);
    assert.deepEqual(causes.get('idle')?.map((c) => [c.file, c.line, c.text]), [['haproxy.cfg', 5, 'timeout tunnel 20s closes the API connections after 20s without traffic']]);
  });

  test('a stream through the LB host an LB step took down, found cut only later, is not the later step\'s loss', () => {
    const steps: StepRecord[] = [
      { name: 'lb-link-cut', target: 'lb-01', startedAt: T, endedAt: T + 15_000, disturbedAt: T + 500, restoredAt: T + 8000, actions: [] },
      { name: 'reload', startedAt: T + 15_000, endedAt: T + 18_000, disturbedAt: T + 15_100, actions: [] },
    ];
    const holders = [{ at: T - 5000, hosts: ['lb-01'] }, { at: T + 4000, hosts: ['lb-02'] }, { at: T + 12_000, hosts: ['lb-01'] }];
    const stale = [open('watch', 0, T - 2000, 'cp-01'), cut(0, T + 15_200, 17_200, T - 2100), open('watch', 0, T + 15_500, 'cp-02')];
    const verdict = judge(plan, observations(steps, [...steady(T, T + 18_000), ...stale], { holders }));
    assert.deepEqual(verdict.steps.find((s) => s.name === 'reload')!.losses, []);
    // A stream opened after the LB step, through a host that still holds the VIP, cut by the reload: the reload's loss.
    const fresh = [open('watch', 1, T + 13_000, 'cp-01'), cut(1, T + 15_200, 2000, T + 12_900), open('watch', 1, T + 15_500, 'cp-02')];
    const again = judge(plan, observations(steps, [...steady(T, T + 18_000), ...fresh], { holders }));
    assert.match(again.steps.find((s) => s.name === 'reload')!.losses[0]?.text ?? '', /1 watch on cp-01 cut/);
    // A stream opened during the LB step through lb-02, which held the VIP until lb-01 took it back: it died with
    // that move, and is found cut (stalled) in the reload. The LB step's, not the reload's.
    const meanwhile: ClientEvent[] = [open('exec', 2, T + 6000, 'cp-02'), { e: 'stream', kind: 'exec', id: 2, event: 'cut', at: T + 15_300, reason: 'stalled', idleMs: 3100, openedAt: T + 5900 }, open('exec', 2, T + 15_600, 'cp-03')];
    assert.deepEqual(judge(plan, observations(steps, [...steady(T, T + 18_000), ...meanwhile], { holders })).steps.find((s) => s.name === 'reload')!.losses, []);
    // The same stream through lb-01, which holds the VIP at the end of the step: the reload's loss.
    const holdersStayed = [{ at: T - 5000, hosts: ['lb-01'] }, { at: T + 4000, hosts: ['lb-02'] }];
    assert.match(judge(plan, observations(steps, [...steady(T, T + 18_000), ...meanwhile], { holders: holdersStayed })).steps.find((s) => s.name === 'reload')!.losses[0]?.text ?? '', /1 exec stream on cp-02 cut \(stalled\)/);
  });

  test('a stream on the crashed node may be cut if it comes back in time; one that does not come back is a loss', () => {
    const step: StepRecord = { name: 'node-crash', target: 'cp-01', startedAt: T, endedAt: T + 30_000, disturbedAt: T + 1000, restoredAt: T + 20_000, actions: [] };
    const back = judge(plan, observations([step], [...steady(T, T + 30_000), open('exec', 0, T, 'cp-01'), { e: 'stream', kind: 'exec', id: 0, event: 'cut', at: T + 2000, reason: 'stalled', idleMs: 3000, openedAt: T }, open('exec', 0, T + 2500, 'cp-02')]));
    assert.equal(back.lost, false);
    const never = judge(plan, observations([step], [...steady(T, T + 30_000), open('exec', 0, T, 'cp-01'), { e: 'stream', kind: 'exec', id: 0, event: 'cut', at: T + 2000, reason: 'stalled', idleMs: 3000, openedAt: T }]));
    assert.match(never.steps[0].losses[0].text, /1 exec stream on cp-01 cut \(stalled\): 1 did not come back/);
  });
});

test('causes from what the stand-in nodes saw: a PROXY header, a check without Host', () => {
  const step: StepRecord = { name: 'baseline', startedAt: T, endedAt: T + 3000, actions: [] };
  const o = observations([step], steady(T, T + 3000, () => 'ECONNRESET'), {
    nodes: [{ kind: 'proxy-header', from: '10.0.0.11', at: T + 10, node: 'cp-01' }, { kind: 'missing-host', from: 'check', at: T + 20, node: 'cp-02' }],
  });
  const causes = findCauses(plan, inputs, judge(plan, o), o, []).get('baseline') ?? [];
  assert.deepEqual(causes.map((c) => c.line), [10, 12, 13, 14]);
  assert.match(causes[0].text, /speaks HTTP\/1\.1 and sends no Host header/);
  assert.match(causes[1].text, /send-proxy sends a PROXY protocol header/);
  assert.ok(causes.every((c) => c.file === 'haproxy.cfg' && c.why && c.evidence));
});

test('the JSON report has stable keys', () => {
  const step: StepRecord = { name: 'baseline', startedAt: T, endedAt: T + 3000, actions: ['nothing'] };
  const o = observations([step], steady(T, T + 3000));
  const json = reportJson(plan, judge(plan, o), new Map()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), ['mode', 'endpoint', 'nodes', 'lbHosts', 'apiserver', 'promises', 'plannedSteps', 'notes', 'setup', 'steps', 'lost', 'interrupted', 'durationMs']);
  const first = (json.steps as Array<Record<string, unknown>>)[0];
  assert.deepEqual(Object.keys(first), ['name', 'target', 'start', 'end', 'actions', 'requests', 'talos', 'streams', 'vipHolders', 'allowed', 'losses', 'lost', 'causes']);
});

test('a cause in a keepalived.conf read with its includes points at the included file and its line', () => {
  const main = 'global_defs {\n}\n# include conf.d/vip.conf\nvrrp_instance VI_1 {\n  interface eth0\n  priority 100\n  virtual_ipaddress {\n    10.0.0.10/24\n  }\n  track_script {\n    chk\n  }\n}\n';
  const origins = main.split('\n').map((_l, i) => (i >= 3 ? { file: 'conf.d/vip.conf', line: i - 2 } : { file: 'keepalived.conf', line: i + 1 }));
  const withIncludes = classify([{ path: 'haproxy.cfg', text: HAPROXY }, { path: 'keepalived.conf', text: main, origins }]);
  const lbPlan = planRehearsal(withIncludes, { serve: false, idleCapMs: 45_000 });
  const step: StepRecord = { name: 'lb-engine-crash', target: 'lb-01', startedAt: T, endedAt: T + 10_000, disturbedAt: T + 100, restoredAt: T + 9000, actions: [] };
  const o = observations([step], steady(T, T + 10_000, (at) => (at > T + 100 ? 'ECONNREFUSED' : undefined)), {
    logs: [{ host: 'lb-01', engine: 'keepalived', at: T - 1000, line: 'Tue Dec  8 00:00:00 2026: (/tmp/ce-rehearse-1-x/lb-01/keepalived.conf: Line 11) (VI_1) track script chk not found, ignoring...' }],
    holders: [{ at: T - 5000, hosts: ['lb-01'] }],
  });
  const causes = findCauses(lbPlan, withIncludes, judge(lbPlan, o), o, []).get('lb-engine-crash') ?? [];
  assert.ok(causes.some((c) => c.file === 'conf.d/vip.conf' && c.line === 8 && /track_script chk of VI_1: keepalived ignores it/.test(c.text)), JSON.stringify(causes));
});

describe('the setup, before the client starts', () => {
  test('the VIP handed over while the LB hosts started is the setup\'s, shown in the report and not in any step', () => {
    const vipPlan = planRehearsal(classify([{ path: 'haproxy.cfg', text: HAPROXY }, { path: 'lb-01/keepalived.conf', text: 'vrrp_instance VI_1 {\n  interface eth0\n  state MASTER\n  priority 100\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.30/24\n  }\n}\n' }, { path: 'lb-02/keepalived.conf', text: 'vrrp_instance VI_1 {\n  interface eth0\n  state BACKUP\n  priority 90\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.30/24\n  }\n}\n' }]), { serve: false, idleCapMs: 45_000 });
    const base: StepRecord = { name: 'baseline', startedAt: T + 8000, endedAt: T + 11_000, actions: [] };
    const holders = [{ at: T, hosts: [] }, { at: T + 4000, hosts: ['lb-02'] }, { at: T + 5900, hosts: ['lb-01'] }];
    const verdict = judge(vipPlan, observations([base], steady(T + 7000, T + 11_000), { holders, setup: { startedAt: T, settledAt: T + 6900, boundMs: 12_000, clientAt: T + 6900, readyAt: T + 7500 } }));
    assert.equal(verdict.lost, false);
    assert.deepEqual(verdict.setup, { durationMs: 6900, settled: true, holders: [[], ['lb-02'], ['lb-01']], ready: true });
    assert.deepEqual(verdict.steps[0].holders, [['lb-01']]);
    const json = reportJson(vipPlan, verdict, new Map()) as { setup: { text: string; settled: boolean } };
    assert.equal(json.setup.settled, true);
    assert.match(json.setup.text, /settled in 6\.9s; the VIP went lb-02→lb-01 as the LB hosts started together/);
    const unsettled = judge(vipPlan, observations([base], steady(T + 13_000, T + 16_000), { holders, setup: { startedAt: T, boundMs: 12_000, clientAt: T + 12_000 } }));
    assert.match(setupText(unsettled.setup!), /had not settled \(the client started anyway; the baseline shows what that costs\).*did not answer/);
  });

  test('the VRRP state each engine announces: keepalived\'s log line, serve\'s vip transition', () => {
    assert.equal(vrrpStateOf('keepalived', 'Tue Dec  8 02:46:25 2026: (rciis-endpoint) Entering MASTER STATE'), 'master');
    assert.equal(vrrpStateOf('keepalived', '(VI_1) Entering FAULT STATE'), 'fault');
    assert.equal(vrrpStateOf('keepalived', '(VI_1) received lower priority (90) advert from 192.168.30.12 - discarding'), undefined);
    assert.equal(vrrpStateOf('serve', JSON.stringify({ level: 30, self: 'lb-02', from: 'fault', to: 'backup', msg: 'vip transition' })), 'backup');
    assert.equal(vrrpStateOf('serve', JSON.stringify({ level: 30, msg: 'vip added', to: 'x' })), undefined);
    assert.equal(vrrpStateOf('haproxy', '(VI_1) Entering MASTER STATE'), undefined);
  });
});
