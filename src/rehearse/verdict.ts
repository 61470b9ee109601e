// The verdict, a pure function of the plan and what was seen: per step, the failed requests, the longest
// outage, the streams cut and whether they came back, who held the VIP — and which of those losses the
// promises allow. A step loses when clients lost more than its promise allows:
// - baseline, reload and a drained reboot: nothing (a reboot's own streams may be cut if they come back);
// - a node crashed, black-holed or unready: failures only until its check can have taken it out (the spec's
//   healthCheck, else the files' own check timing), streams on that node if they come back by then;
// - an LB host or its balancer lost: an outage no longer than the VIP can take to move (the spec's
//   vip.advertInterval, else the files' advert_int and track script), streams through it if they come back;
// - idle watches: none cut before the spec's balancer.idleTimeout, else before kube-apiserver ends a watch
//   itself (--min-request-timeout, 30 minutes).
import type { ClientEvent } from './client.js';
import type { NodeEventKind } from './apiserver.js';
import { holdersAt, type Observations, type StepRecord } from './observe.js';
import { STEP_TITLES, WATCH_LIFETIME_MS, type RehearsalPlan, type StepName } from './plan.js';

/** Slack on top of a promised time: events on 2 cores and a client that waits for answers are not instant. */
export const SLACK_MS = 1500;
/**
 * A stream re-opened while the balancer still sends to the lost node waits for the client's own timeout
 * (run.ts TRAFFIC.requestTimeoutMs) before it tries again: allowed on top of the promise, with the slack.
 */
export const REQUEST_GRACE_MS = 5000 + SLACK_MS;

export interface Outage { failed: number; total: number; errors: Record<string, number>; longestMs: number; firstFailureAt?: number; lastFailureAt?: number }

export interface Cut {
  kind: 'watch' | 'exec';
  id: number;
  /** When the stream was opened, and the LB hosts that held the VIP then (it went through one of them). */
  openedAt: number;
  via: string[];
  at: number;
  reason: string;
  idleMs: number;
  node?: string;
  /** When the same stream was open again (undefined: not by the end). */
  backAt?: number;
}

export interface Loss { what: 'requests' | 'talos' | 'streams' | 'idle'; text: string }

export interface StepResult {
  name: StepName;
  title: string;
  target?: string;
  startedAt: number;
  endedAt: number;
  actions: string[];
  requests: Outage;
  talos: Outage;
  cuts: Cut[];
  /** Distinct holders of the VIP in order during the step. */
  holders: string[][];
  /** In words: what the promises allow in this step. */
  allowed: string;
  losses: Loss[];
  /** Things the stand-in nodes saw in this step (a check's 400, a PROXY header, …), counted; `script:` ones came from a check script. */
  seen: Partial<Record<NodeEventKind, number>>;
  seenFromScripts: Partial<Record<NodeEventKind, number>>;
  /** For the idle step: the longest a watch idled without being cut. */
  longestIdleMs?: number;
}

/** The lab's setup, before the client started (observe.ts SetupRecord): nothing a client saw, so nothing lost. */
export interface SetupResult {
  durationMs: number;
  /** One LB host held the VIP and no other would take it before the client started. */
  settled: boolean;
  /** The VIP's holders while the LB hosts started, in order (empty: no host). */
  holders: string[][];
  /** Requests went through and the streams were open before the drill began. */
  ready: boolean;
}

export interface Verdict {
  setup?: SetupResult;
  steps: StepResult[];
  lost: boolean;
  interrupted: boolean;
  durationMs: number;
}

const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);

export function judge(plan: RehearsalPlan, observations: Observations): Verdict {
  const o = { ...observations, client: attribute(observations) };
  const cuts = allCuts(o.client, o);
  // A watch cut after just the idle time a configured timeout names is that timeout's, whatever step was running.
  const explained = new Set<Cut>(cuts.filter((c) => c.kind === 'watch' && idleTimeoutOf(plan, c) !== undefined));
  // A stream through an LB host that an LB step took down (or took the VIP from) died then, silently: the client
  // learns of it only when a byte next moves, maybe steps later. That LB step answers for it, not the one it shows in.
  // So does a stream opened during the LB step through the host that held the VIP meanwhile, when the step ends with
  // the VIP back where it was (the restored host takes it back): it dies with that second move.
  for (const cut of cuts) {
    const inLbStep = o.steps.some((s) => s.name.startsWith('lb-') && cut.at >= s.startedAt && cut.at < s.endedAt);
    if (inLbStep) continue;
    const diedEarlier = o.steps.some((s) => s.name.startsWith('lb-') && s.disturbedAt !== undefined && cut.openedAt < s.disturbedAt && s.startedAt <= cut.at
      && (cut.via.length !== 1 || cut.via.includes(s.target ?? '') || !holdersAt(o, cut.at).includes(cut.via[0])));
    const openedMeanwhile = o.steps.some((s) => s.name.startsWith('lb-') && s.disturbedAt !== undefined && cut.openedAt >= s.disturbedAt && cut.openedAt < s.endedAt
      && cut.via.length === 1 && !holdersAt(o, s.endedAt).includes(cut.via[0]) && !holdersAt(o, cut.at).includes(cut.via[0]));
    if (diedEarlier || openedMeanwhile) explained.add(cut);
  }
  const preExplained: ReadonlySet<Cut> = new Set(explained);
  const results: StepResult[] = [];
  for (const step of o.steps) {
    if (step.name === 'idle') continue;
    results.push(judgeStep(plan, o, step, cuts, explained, preExplained));
  }
  const idleStep = o.steps.find((s) => s.name === 'idle');
  if (idleStep) results.splice(Math.max(0, o.steps.indexOf(idleStep)), 0, judgeIdle(plan, o, idleStep, cuts, explained));
  const setup = o.setup && {
    durationMs: (o.setup.clientAt ?? o.endedAt) - o.setup.startedAt,
    settled: o.setup.settledAt !== undefined,
    holders: plan.endpoint.vip ? holdersDuring(o, o.setup.startedAt, o.setup.clientAt ?? o.endedAt) : [],
    ready: o.setup.readyAt !== undefined,
  };
  return { ...(setup ? { setup } : {}), steps: results, lost: results.some((r) => r.losses.length > 0), interrupted: o.interrupted, durationMs: o.endedAt - o.startedAt };
}

/**
 * A failed request that was still waiting when a step disturbed something was decided by that disturbance: it
 * counts as failing then, in that step (the drill lets requests end before it disturbs, so these are few).
 */
export function attribute(o: Observations): ClientEvent[] {
  const disturbances = o.steps.map((s) => s.disturbedAt).filter((d): d is number => d !== undefined).sort((a, b) => a - b);
  return o.client.map((e) => {
    if (e.e !== 'request' || e.ok) return e;
    const d = disturbances.find((t) => t > e.at && t < e.at + e.ms);
    return d === undefined ? e : { ...e, at: d };
  });
}

/** The configured idle timeout a cut matches (its idle time within 2 s or 10 % of the timeout). */
export function idleTimeoutOf(plan: RehearsalPlan, cut: Cut): RehearsalPlan['timing']['idleTimeouts'][number] | undefined {
  return plan.timing.idleTimeouts.find((t) => Math.abs(cut.idleMs - t.ms) <= Math.max(2000, t.ms * 0.1));
}

/** Every stream cut, with the node the stream was on and when it was open again. */
export function allCuts(events: ClientEvent[], o?: Observations): Cut[] {
  const node = new Map<string, string | undefined>();
  const openAt = new Map<string, number>();
  const cuts: Cut[] = [];
  const waiting = new Map<string, Cut>();
  for (const e of events) {
    if (e.e !== 'stream') continue;
    const key = `${e.kind}:${e.id}`;
    if (e.event === 'open') {
      node.set(key, e.node);
      openAt.set(key, e.at);
      const cut = waiting.get(key);
      if (cut) { cut.backAt = e.at; waiting.delete(key); }
    } else if (e.event === 'cut') {
      const opened = openAt.get(key) ?? e.openedAt;
      const via = o ? holdersAt(o, opened) : [];
      const cut: Cut = { kind: e.kind, id: e.id, openedAt: opened, via, at: e.at, reason: e.reason, idleMs: e.idleMs, ...(node.get(key) ? { node: node.get(key) } : {}) };
      cuts.push(cut);
      waiting.set(key, cut);
    }
  }
  return cuts;
}

export function outage(events: ClientEvent[], api: 'kubernetes' | 'talos', from: number, to: number): Outage {
  const requests = events.filter((e): e is Extract<ClientEvent, { e: 'request' }> => e.e === 'request' && e.api === api && e.at >= from && e.at < to).sort((a, b) => a.at - b.at);
  const errors: Record<string, number> = {};
  let longest = 0;
  let openAt: number | undefined;
  let first: number | undefined;
  let last: number | undefined;
  for (const r of requests) {
    if (r.ok) {
      if (openAt !== undefined) { longest = Math.max(longest, r.at - openAt); openAt = undefined; }
      continue;
    }
    errors[r.error ?? 'failed'] = (errors[r.error ?? 'failed'] ?? 0) + 1;
    first ??= r.at;
    last = r.at;
    openAt ??= r.at;
  }
  if (openAt !== undefined) longest = Math.max(longest, to - openAt);
  const failed = requests.filter((r) => !r.ok).length;
  return { failed, total: requests.length, errors, longestMs: longest, ...(first !== undefined ? { firstFailureAt: first } : {}), ...(last !== undefined ? { lastFailureAt: last } : {}) };
}

function seenIn(o: Observations, from: number, to: number, scripts: boolean): StepResult['seen'] {
  const seen: StepResult['seen'] = {};
  for (const e of o.nodes) {
    if (e.at < from || e.at >= to || ['listening', 'stopped', 'terminating'].includes(e.kind)) continue;
    if ((e.from?.startsWith('script:') ?? false) !== scripts) continue;
    const kind = e.kind as NodeEventKind;
    seen[kind] = (seen[kind] ?? 0) + 1;
  }
  return seen;
}

function holdersDuring(o: Observations, from: number, to: number): string[][] {
  const sequence: string[][] = [holdersAt(o, from)];
  for (const sample of o.holders) {
    if (sample.at <= from || sample.at >= to) continue;
    if (sample.hosts.join(',') !== sequence.at(-1)!.join(',')) sequence.push(sample.hosts);
  }
  return sequence;
}

function judgeStep(plan: RehearsalPlan, o: Observations, step: StepRecord, cuts: Cut[], explained: Set<Cut>, preExplained: ReadonlySet<Cut>): StepResult {
  const from = step.startedAt;
  const to = step.endedAt;
  const requests = outage(o.client, 'kubernetes', from, to);
  const talos = outage(o.client, 'talos', from, to);
  // Cuts another step answers for (an idle timeout, a VIP move earlier) are not shown as this step's.
  const inStep = cuts.filter((c) => c.at >= from && c.at < to && !preExplained.has(c));
  const losses: Loss[] = [];
  const result: StepResult = {
    name: step.name, title: STEP_TITLES[step.name], ...(step.target ? { target: step.target } : {}), startedAt: from, endedAt: to, actions: step.actions,
    requests, talos, cuts: inStep, holders: holdersDuring(o, from, to), allowed: '', losses, seen: seenIn(o, from, to, false), seenFromScripts: seenIn(o, from, to, true),
  };
  const failures = (api: 'kubernetes' | 'talos') => o.client.filter((e): e is Extract<ClientEvent, { e: 'request' }> => e.e === 'request' && e.api === api && !e.ok && e.at >= from && e.at < to);
  /** Failures outside the windows the promise allows, per API (the drill lets a step's requests end before the next disturbs anything). */
  const beyond = (windows: Array<[number, number]>) => {
    for (const api of ['kubernetes', 'talos'] as const) {
      const outside = failures(api).filter((f) => !windows.some(([a, b]) => f.at >= a && f.at <= b));
      if (outside.length === 0) continue;
      const stats = api === 'kubernetes' ? requests : talos;
      const errors: Record<string, number> = {};
      for (const f of outside) errors[f.error ?? 'failed'] = (errors[f.error ?? 'failed'] ?? 0) + 1;
      losses.push({ what: api === 'kubernetes' ? 'requests' : 'talos', text: `${outside.length} ${api === 'kubernetes' ? 'Kubernetes API request(s)' : 'Talos API call(s)'} failed${windows.length ? ' beyond what the promise allows' : ''} (${Object.entries(errors).map(([e, n]) => `${e} ×${n}`).join(', ')}; longest outage in the step ${fmt(stats.longestMs)})` });
    }
  };
  /** Cuts the step explains (on its node, or through its LB host) that come back in time; the rest are losses. */
  /** Cuts the step explains must be back within backWithinMs of the cut, or of the disturbance when one is given. */
  const judgeCuts = (explains: (c: Cut) => boolean, backWithinMs: number, since?: number) => {
    const late: Cut[] = [];
    for (const cut of inStep) {
      if (explained.has(cut)) continue;
      if (!explains(cut)) continue;
      explained.add(cut);
      const deadline = Math.max(cut.at, since ?? cut.at) + backWithinMs;
      if (cut.backAt === undefined || cut.backAt > deadline) late.push(cut);
    }
    if (late.length === 0) return;
    const watches = late.filter((c) => c.kind === 'watch').length;
    const execs = late.length - watches;
    const kinds = [watches && `${watches} watch${watches > 1 ? 'es' : ''}`, execs && `${execs} exec stream${execs > 1 ? 's' : ''}`].filter(Boolean).join(' and ');
    const never = late.filter((c) => c.backAt === undefined).length;
    const slowest = Math.max(0, ...late.filter((c) => c.backAt !== undefined).map((c) => c.backAt! - Math.max(c.at, since ?? c.at)));
    const nodes = [...new Set(late.map((c) => c.node).filter(Boolean))];
    losses.push({ what: 'streams', text: `${kinds}${nodes.length ? ` on ${nodes.join(', ')}` : ''} cut (${[...new Set(late.map((c) => c.reason))].join(', ')}): ${never ? `${never} did not come back${never < late.length ? ', the others ' : ''}` : ''}${never < late.length ? `came back only ${fmt(slowest)} after ${since !== undefined ? 'the disturbance' : 'the cut'}` : ''}${backWithinMs > 0 ? ` (allowed: ${fmt(backWithinMs)})` : ''}` });
  };
  if (requests.total + talos.total === 0 && (plan.endpoint.kubernetesPort || plan.endpoint.talosPort)) {
    losses.push({ what: 'requests', text: 'no request through the endpoint finished during the step' });
  }
  const t = plan.timing;
  const disturbed = step.disturbedAt ?? from;
  const restored = step.restoredAt ?? to;
  switch (step.name) {
    case 'baseline': case 'reload':
      result.allowed = 'nothing: no failed request, no stream cut';
      beyond([]);
      judgeCuts((c) => c.idleMs < 2000 || step.name === 'reload', 0);
      break;
    case 'node-reboot': {
      const drained = step.actions.some((a) => a.includes('drained on every LB host'));
      result.allowed = `no failed request${drained ? '' : ' (the node went down without a drain: its in-flight requests may fail)'}; streams on ${step.target} may be cut if they come back within ${fmt(t.nodeDetectMs)}`;
      beyond([]);
      judgeCuts((c) => c.node === step.target && c.at >= disturbed - 500, t.nodeDetectMs + REQUEST_GRACE_MS, disturbed);
      break;
    }
    case 'node-crash': case 'node-blackhole': case 'api-unready': {
      const window: [number, number] = [disturbed, disturbed + t.nodeDetectMs + SLACK_MS];
      // Requests already sent to the node when it came back may fail once more.
      const back: [number, number] = [restored, restored + SLACK_MS];
      result.allowed = `failures only until ${step.target} is taken out (${fmt(t.nodeDetectMs)}: ${t.nodeDetectFrom.text}); streams on ${step.target} if they come back by then`;
      beyond([window, back]);
      judgeCuts((c) => c.node === step.target && c.at >= disturbed - 500, t.nodeDetectMs + REQUEST_GRACE_MS, disturbed);
      break;
    }
    case 'lb-engine-crash': case 'lb-host-crash': case 'lb-link-cut': {
      const promised = step.name === 'lb-engine-crash' ? t.lbEngineFailoverMs : t.lbFailoverMs;
      const allowance = promised + SLACK_MS;
      // Moving back, the restored host first passes its own checks again (they rise as a node's do).
      const back = allowance + t.nodeRejoinMs;
      result.allowed = `an outage of at most ${fmt(promised)} when the VIP moves (${t.lbFailoverFrom.text}${step.name === 'lb-engine-crash' && t.lbEngineFailoverMs > t.lbFailoverMs ? `, after the track script's ${fmt(t.lbEngineFailoverMs - t.lbFailoverMs)}` : ''}), and when it moves back within ${fmt(promised + t.nodeRejoinMs)} of the restore; streams through ${step.target} if they come back by then`;
      beyond([[disturbed, disturbed + allowance], [restored, restored + back]]);
      judgeCuts((c) => c.at >= disturbed - 500 && c.at < restored, allowance + REQUEST_GRACE_MS, disturbed);
      judgeCuts((c) => c.at >= restored, back + REQUEST_GRACE_MS, restored);
      const moved = result.holders.some((h) => h.length > 0 && !h.includes(step.target ?? ''));
      if (!moved && requests.failed > 0 && plan.endpoint.vip) losses.push({ what: 'requests', text: `the VIP stayed on ${step.target}: it never moved to another LB host while ${step.name === 'lb-engine-crash' ? 'its balancer was down' : 'it was gone'}` });
      break;
    }
  }
  return result;
}

function judgeIdle(plan: RehearsalPlan, o: Observations, step: StepRecord, cuts: Cut[], explained: Set<Cut>): StepResult {
  const promise = plan.mode === 'serve' || plan.timing.idleTimeouts.some((t) => t.from.text.includes('balancer.idleTimeout')) ? Math.min(...plan.timing.idleTimeouts.map((t) => t.ms), WATCH_LIFETIME_MS) : WATCH_LIFETIME_MS;
  const from = o.watchesOpenAt ?? step.startedAt;
  const to = step.endedAt;
  // Watches cut after idling that no step explains, over the whole drill (a short timeout cuts them again and again).
  const idleCuts = cuts.filter((c) => c.kind === 'watch' && c.at >= from && (idleTimeoutOf(plan, c) !== undefined || (!explained.has(c) && c.idleMs >= 1000)));
  const losses: Loss[] = [];
  const early = idleCuts.filter((c) => c.idleMs < promise);
  if (early.length) {
    const idles = early.map((c) => c.idleMs);
    losses.push({ what: 'idle', text: `${early.length} watch(es) cut after ${fmt(Math.min(...idles))}${Math.max(...idles) - Math.min(...idles) > 1000 ? `–${fmt(Math.max(...idles))}` : ''} idle (${[...new Set(early.map((c) => c.reason))].join(', ')})` });
  }
  // The longest any watch idled: from its open to its cut, or to the end of the checkpoint.
  let longest = 0;
  const opened = new Map<number, number>();
  for (const e of o.client) {
    if (e.e !== 'stream' || e.kind !== 'watch') continue;
    if (e.event === 'open') opened.set(e.id, e.at);
    else if (e.event === 'cut' && opened.has(e.id)) { longest = Math.max(longest, Math.min(e.at, to) - Math.max(opened.get(e.id)!, from)); opened.delete(e.id); }
  }
  for (const at of opened.values()) longest = Math.max(longest, to - Math.max(at, from));
  return {
    name: 'idle', title: STEP_TITLES.idle, startedAt: from, endedAt: to, actions: step.actions,
    requests: outage([], 'kubernetes', from, to), talos: outage([], 'talos', from, to), cuts: idleCuts, holders: [], losses, seen: {}, seenFromScripts: {},
    allowed: promise >= WATCH_LIFETIME_MS ? `no idle watch cut before kube-apiserver ends it (${fmt(WATCH_LIFETIME_MS)}, --min-request-timeout)` : `no idle watch cut before balancer.idleTimeout (${fmt(promise)})`,
    longestIdleMs: Math.max(0, longest),
  };
}
