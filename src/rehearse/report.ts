// The rehearsal's report: the plan in a few lines (--dry-run prints it alone), a table of the steps, and for
// every step that lost something what was lost, what the promises allow and the causes with file:line.
// Text for people, JSON (stable keys) for CI. Pure.
import type { Cause } from './causes.js';
import { STEP_TITLES, type RehearsalPlan, type StepName } from './plan.js';
import type { SetupResult, StepResult, Verdict } from './verdict.js';

const secs = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);

export function formatPlan(plan: RehearsalPlan): string {
  const lines: string[] = [];
  const ports = [plan.endpoint.kubernetesPort && `${plan.endpoint.kubernetesPort} (Kubernetes API)`, plan.endpoint.talosPort && `${plan.endpoint.talosPort} (Talos API)`].filter(Boolean).join(', ');
  lines.push(`rehearsal of ${plan.mode === 'serve' ? `serve with ${plan.serveSpec?.source}` : [...new Set(plan.lbHosts.flatMap((h) => [h.haproxy?.source, h.keepalived?.source]).filter(Boolean))].join(', ')}`);
  lines.push(`  endpoint   ${plan.endpoint.address} on ${ports} — ${plan.endpoint.from.text}`);
  lines.push(`  segments   ${plan.segments.filter((s) => s.cidr).map((s) => s.cidr).join(', ')}${plan.router ? ' (routed by the lab\'s router)' : ''}`);
  for (const node of plan.nodes) lines.push(`  node       ${node.name.padEnd(10)} ${node.address.padEnd(15)} ${[node.kubernetesPort && `kube-apiserver :${node.kubernetesPort}`, node.talosPort && `apid :${node.talosPort}`].filter(Boolean).join(', ')} (${node.from.text})`);
  for (const host of plan.lbHosts) {
    const files = host.engines.map((e) => (e === 'haproxy' ? `haproxy ${host.haproxy?.source}` : e === 'keepalived' ? `keepalived ${host.keepalived?.source}${host.keepalived?.derived ? ' (the second host its comments describe)' : ''}` : 'cluster-endpoint serve'));
    lines.push(`  LB host    ${host.name.padEnd(10)} ${host.address.padEnd(15)} ${host.links.map((l) => l.name).join(', ')}: ${files.join(', ')}${host.priority !== undefined ? `, priority ${host.priority}` : ''}`);
  }
  lines.push(`  client     ${plan.client.address}: ${'kubectl-like requests, idle watches, an exec stream'}${plan.endpoint.talosPort ? ', talosctl calls' : ''}`);
  lines.push(`  nodes act  anonymous auth ${plan.apiserver.anonymousAuth ? 'on' : 'off'} (${plan.apiserver.anonymousFrom.text}); shutdown delay ${secs(plan.apiserver.shutdownDelayMs)} (${plan.apiserver.shutdownDelayFrom.text})`);
  lines.push(`  promises   a node out within ${secs(plan.timing.nodeDetectMs)} (${plan.timing.nodeDetectFrom.text}); the VIP moved within ${secs(plan.timing.lbFailoverMs)} when its holder is gone (${plan.timing.lbFailoverFrom.text}), ${secs(plan.timing.lbEngineFailoverMs)} when its balancer dies`);
  if (plan.timing.idleTimeouts.length) lines.push(`  idle       ${plan.timing.idleTimeouts.map((t) => `${t.what} (${t.from.text})`).join(', ')}; watches idle up to ${secs(plan.timing.idleMs)}`);
  lines.push(`  steps      ${plan.steps.map((s) => `${s.name}${s.target && !s.target.startsWith('the ') ? ` ${s.target}` : ''}`).join(', ')}`);
  for (const note of plan.notes) lines.push(`  note       ${note}`);
  return `${lines.join('\n')}\n`;
}

function requestsCell(step: StepResult): string {
  if (step.name === 'idle') return '-';
  const total = step.requests.total + step.talos.total;
  return `${step.requests.failed + step.talos.failed}/${total} failed`;
}

function streamsCell(step: StepResult): string {
  if (step.name === 'idle') return step.cuts.length ? `${step.cuts.length} cut idle` : `none cut (idled ${secs(step.longestIdleMs ?? 0)})`;
  if (step.cuts.length === 0) return '0';
  return `${step.cuts.length} (${step.cuts.filter((c) => c.backAt !== undefined).length} back)`;
}

function vipCell(step: StepResult): string {
  const seq = step.holders.map((h) => (h.length ? h.join('+') : 'none'));
  return seq.length ? seq.join('→') : '-';
}

/** The setup in words: how the LB hosts settled before the client started (nothing a client saw). */
export function setupText(setup: SetupResult): string {
  const moves = setup.holders.filter((h) => h.length > 0).map((h) => h.join('+'));
  const vip = moves.length === 0 ? '' : moves.length === 1 ? `; ${moves[0]} took the VIP` : `; the VIP went ${moves.join('→')} as the LB hosts started together`;
  const settled = setup.settled ? 'settled' : 'had not settled (the client started anyway; the baseline shows what that costs)';
  return `the lab ${settled} in ${secs(setup.durationMs)}${vip}; ${setup.ready ? 'then requests went through and every stream was open' : 'the endpoint did not answer before the drill began'}`;
}

export function formatReport(verdict: Verdict, causes: Map<StepName, Cause[]>): string {
  const lines: string[] = [];
  if (verdict.setup) lines.push(`setup: ${setupText(verdict.setup)}`);
  lines.push(`${'STEP'.padEnd(26)} ${'REQUESTS'.padEnd(15)} ${'LONGEST'.padEnd(8)} ${'STREAMS CUT'.padEnd(26)} ${'VIP'.padEnd(18)} VERDICT`);
  for (const step of verdict.steps) {
    const name = `${step.name}${step.target ? ` ${step.target}` : ''}`;
    const longest = step.name === 'idle' ? '-' : secs(Math.max(step.requests.longestMs, step.talos.longestMs));
    lines.push(`${name.padEnd(26)} ${requestsCell(step).padEnd(15)} ${longest.padEnd(8)} ${streamsCell(step).padEnd(26)} ${vipCell(step).padEnd(18)} ${step.losses.length ? 'LOST' : 'ok'}`);
  }
  const lost = verdict.steps.filter((s) => s.losses.length);
  for (const step of lost) {
    lines.push('', `${step.name}${step.target ? ` (${step.target})` : ''} — ${STEP_TITLES[step.name]}`);
    for (const action of step.actions) lines.push(`  did:     ${action}`);
    for (const loss of step.losses) lines.push(`  lost:    ${loss.text}`);
    lines.push(`  allowed: ${step.allowed}`);
    for (const cause of causes.get(step.name) ?? []) {
      lines.push(`  cause:   ${cause.file ? `${cause.file}${cause.line ? `:${cause.line}` : ''}: ` : ''}${cause.text}${cause.rule ? ` [doctor ${cause.rule}]` : ''}`);
      lines.push(`           why: ${cause.why}`);
      if (cause.evidence) lines.push(`           seen: ${cause.evidence}`);
    }
  }
  lines.push('');
  if (verdict.interrupted) lines.push(`interrupted after ${secs(verdict.durationMs)}: the lab is removed; the steps above ran`);
  else if (lost.length) lines.push(`verdict: clients lost more than the promises allow in ${lost.length} of ${verdict.steps.length} step(s) (${secs(verdict.durationMs)})`);
  else lines.push(`verdict: no step lost more than the promises allow (${verdict.steps.length} step(s), ${secs(verdict.durationMs)})`);
  return `${lines.join('\n')}\n`;
}

/** The JSON report: stable keys (docs/rehearse.md). */
export function reportJson(plan: RehearsalPlan, verdict: Verdict | undefined, causes: Map<StepName, Cause[]>): unknown {
  return {
    mode: plan.mode,
    endpoint: { address: plan.endpoint.address, vip: plan.endpoint.vip, kubernetesPort: plan.endpoint.kubernetesPort ?? null, talosPort: plan.endpoint.talosPort ?? null },
    nodes: plan.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role })),
    lbHosts: plan.lbHosts.map((h) => ({ name: h.name, address: h.address, interfaces: h.links.map((l) => l.name), engines: h.engines, haproxy: h.haproxy?.source ?? null, keepalived: h.keepalived?.source ?? null, derived: h.keepalived?.derived ?? null })),
    apiserver: { anonymousAuth: plan.apiserver.anonymousAuth, shutdownDelayMs: plan.apiserver.shutdownDelayMs },
    promises: { nodeDetectMs: plan.timing.nodeDetectMs, lbFailoverMs: plan.timing.lbFailoverMs, lbEngineFailoverMs: plan.timing.lbEngineFailoverMs, idleTimeouts: plan.timing.idleTimeouts.map((t) => ({ ms: t.ms, what: t.what, file: t.from.file ?? null, line: t.from.line ?? null })) },
    plannedSteps: plan.steps.map((s) => ({ name: s.name, target: s.target ?? null, holdMs: s.holdMs })),
    notes: plan.notes,
    ...(verdict ? {
      setup: verdict.setup ? { durationMs: Math.round(verdict.setup.durationMs), settled: verdict.setup.settled, vipHolders: verdict.setup.holders, ready: verdict.setup.ready, text: setupText(verdict.setup) } : null,
      steps: verdict.steps.map((s) => ({
        name: s.name, target: s.target ?? null, start: new Date(s.startedAt).toISOString(), end: new Date(s.endedAt).toISOString(), actions: s.actions,
        requests: { total: s.requests.total, failed: s.requests.failed, errors: s.requests.errors, longestOutageMs: Math.round(s.requests.longestMs) },
        talos: { total: s.talos.total, failed: s.talos.failed, errors: s.talos.errors, longestOutageMs: Math.round(s.talos.longestMs) },
        streams: { cut: s.cuts.length, cameBack: s.cuts.filter((c) => c.backAt !== undefined).length, cuts: s.cuts.map((c) => ({ kind: c.kind, node: c.node ?? null, reason: c.reason, idleMs: Math.round(c.idleMs), backAfterMs: c.backAt === undefined ? null : Math.round(c.backAt - c.at) })) },
        vipHolders: s.holders, allowed: s.allowed, losses: s.losses, lost: s.losses.length > 0,
        ...(s.longestIdleMs !== undefined ? { longestIdleMs: Math.round(s.longestIdleMs) } : {}),
        causes: (causes.get(s.name) ?? []).map((c) => ({ file: c.file ?? null, line: c.line ?? null, text: c.text, why: c.why, evidence: c.evidence ?? null, rule: c.rule ?? null })),
      })),
      lost: verdict.lost, interrupted: verdict.interrupted, durationMs: verdict.durationMs,
    } : {}),
  };
}
