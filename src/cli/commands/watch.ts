import { EXIT } from '../../errors.js';
import type { OutageEvent, OutageWindow, Progress } from '../../probe/outage.js';
import { parseRate } from '../../probe/outage.js';
import { runWatch, TCP_HOLD_MS, type WatchCheck, type WatchResult } from '../../probe/watch.js';
import { addressKind, joinHostPort } from '../../spec/address.js';
import { formatDuration } from '../../spec/duration.js';
import { listenerRole, mainListener, type ListenerRole } from '../../spec/listener-role.js';
import { requireSpec } from '../../spec/load.js';
import { usage, type Io } from '../command.js';

const MAX_RATE = 1000;
export const CHECK_TYPES = ['tcp', 'tls', 'https'] as const;

/**
 * The check each kind of listener gets by default: one only a server behind the balancer can pass. For the
 * Kubernetes API, 401 and 403 are answers too: readiness is then not readable anonymously, but the apiserver
 * answered through the balancer.
 */
const DEFAULT_CHECK: Record<ListenerRole, WatchCheck> = {
  kubernetes: { type: 'https', path: '/readyz', expect: [200, 401, 403] },
  talos: { type: 'tls' },
  'talos-workers': { type: 'tls' },
  other: { type: 'tcp', holdMs: TCP_HOLD_MS },
};

export interface WatchOptions {
  config?: string;
  listener?: string;
  endpoint?: string;
  port?: string;
  rate: string;
  durationMs: number;
  timeoutMs: number;
  check?: (typeof CHECK_TYPES)[number];
  https?: string;
  expect?: string;
  json?: boolean;
  failOnOutage?: boolean;
}

/** Opens connections at a fixed rate until durationMs (or SIGINT) and reports outage windows. */
export async function watch(options: WatchOptions, io: Io): Promise<number> {
  const rate = parseRate(options.rate);
  if (!rate || rate > MAX_RATE) throw usage(`--rate "${options.rate}" is not a rate up to ${MAX_RATE}/s`, 'write it like 20/s, 600/m or 5');
  const { durationMs, timeoutMs } = options;
  const target = await resolveTarget(options);
  const check = chooseCheck(options, target.role);

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const print = printer(io, options.json === true);
  print.start({ host: target.host, port: target.port, rate, durationMs, check });
  let result: WatchResult;
  try {
    result = await runWatch({
      host: target.host, port: target.port, ratePerSecond: rate, durationMs, timeoutMs, check,
      signal: controller.signal, onEvent: print.event, ...(print.live ? { onProgress: print.progress } : {}),
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  print.summary(result);
  return options.failOnOutage && result.windows.length > 0 ? EXIT.failure : EXIT.ok;
}

/** --check and --https say what to do; else the listener's role does (DEFAULT_CHECK). */
function chooseCheck(options: Pick<WatchOptions, 'check' | 'https' | 'expect'>, role: ListenerRole): WatchCheck {
  const expect = options.expect?.split(',').map((s) => Number(s.trim()));
  if (expect?.some((n) => !Number.isInteger(n) || n < 100 || n > 599)) throw usage(`--expect "${options.expect}" is not a list of HTTP statuses`, 'write it like 200 or 200,401');
  if (options.https !== undefined && !options.https.startsWith('/')) throw usage(`--https "${options.https}" is not a path`, 'write it like --https /readyz');
  if (options.https !== undefined && options.check !== undefined && options.check !== 'https') throw usage(`--https goes with an https check, not --check ${options.check}`, 'drop --check, or --https');
  const type = options.https !== undefined ? 'https' : options.check ?? DEFAULT_CHECK[role].type;
  if (expect && type !== 'https') throw usage(`--expect goes with an https check (this is a ${type} check)`, 'add --https PATH, or drop --expect');
  if (type === 'tcp') return { type, holdMs: TCP_HOLD_MS };
  if (type === 'tls') return { type };
  const fallback = DEFAULT_CHECK[role].type === 'https' && options.https === undefined ? DEFAULT_CHECK[role] : undefined;
  return { type, path: options.https ?? '/readyz', expect: expect ?? (fallback?.type === 'https' ? fallback.expect : [200]) };
}

async function resolveTarget(values: { config?: string; listener?: string; endpoint?: string; port?: string }): Promise<{ host: string; port: number; role: ListenerRole }> {
  if (values.endpoint) {
    const port = Number(values.port);
    if (!addressKind(values.endpoint)) throw usage(`--endpoint "${values.endpoint}" is not an address`, 'use an IPv4/IPv6 address or a DNS name; the port goes in --port');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage('--endpoint needs --port 1-65535', 'e.g. --endpoint 192.168.30.30 --port 6443');
    // No spec: the port says what the listener carries, as it would for a spec listener (6443, 50000).
    return { host: values.endpoint, port, role: listenerRole({ name: '', targetPort: port, targets: 'controlPlane' }) };
  }
  if (values.port) throw usage('--port goes with --endpoint', 'with a spec, choose the port with --listener NAME');
  const spec = await requireSpec(values.config ?? 'endpoint.yaml');
  const listener = values.listener ? spec.listeners.find((l) => l.name === values.listener) : mainListener(spec);
  if (!listener) throw usage(`the spec has no listener "${values.listener ?? ''}"`, `use one of: ${spec.listeners.map((l) => l.name).join(', ')}`);
  return { host: spec.endpoint, port: listener.port, role: listener.role };
}

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`);
const reasons = (errors: Record<string, number>) => Object.entries(errors).map(([e, n]) => `${e} ×${n}`).join(', ');
const windowJson = (w: OutageWindow) => ({ start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString(), lengthMs: Math.round(w.lengthMs), failedAttempts: w.failedAttempts, errors: w.errors, ongoing: w.ongoing });

const modeOf = (check: WatchCheck) => (check.type === 'https' ? `https ${check.path}` : check.type);

/**
 * Event lines and the summary, as text or one JSON object per line. On a terminal (text only) a live line at the
 * bottom says how the watch is going, rewritten in place about once a second and cleared before every other line.
 */
function printer(io: Io, json: boolean) {
  const tty = io.stdout as Io['stdout'] & { isTTY?: boolean; columns?: number };
  const live = !json && tty.isTTY === true;
  let showing = false;
  const clear = () => {
    if (showing) io.stdout.write('\r\x1b[2K');
    showing = false;
  };
  const line = (value: unknown) => {
    clear();
    io.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
  };
  return {
    live,
    start(o: { host: string; port: number; rate: number; durationMs: number; check: WatchCheck }) {
      if (json) line({ event: 'start', at: new Date().toISOString(), target: joinHostPort(o.host, o.port), mode: modeOf(o.check), ...(o.check.type === 'https' ? { expect: o.check.expect } : {}), ratePerSecond: o.rate, durationMs: o.durationMs });
      else line(`watching ${joinHostPort(o.host, o.port)} (${modeOf(o.check)}) at ${o.rate}/s for ${formatDuration(o.durationMs)}; Ctrl-C stops and prints the summary`);
    },
    event(e: OutageEvent) {
      if (e.type === 'outage-start') {
        if (json) line({ event: 'outage-start', at: new Date(e.at).toISOString(), error: e.error });
        else line(`${time(e.at)}  outage started (${e.error})`);
      } else if (json) {
        line({ event: 'outage-end', ...windowJson(e.window) });
      } else {
        line(`${time(e.window.end)}  outage ${e.window.ongoing ? 'still going when the watch ended' : 'ended'} after ${seconds(e.window.lengthMs)}: ${e.window.failedAttempts} failed attempt(s) (${reasons(e.window.errors)})`);
      }
    },
    progress(p: Progress) {
      const now = Date.now();
      const state = p.down ? `DOWN for ${seconds(now - p.down.since)} (${p.down.failed} failed)` : 'up';
      const text = `${time(now)}  ${state} · ${p.attempts} attempts, ${p.failed} failed`;
      // Wider than the terminal, it would wrap, and the next rewrite would start on the wrong line.
      io.stdout.write(`\r\x1b[2K${text.slice(0, Math.max(20, (tty.columns ?? 80) - 1))}`);
      showing = true;
    },
    summary(r: WatchResult) {
      if (json) {
        line({ event: 'summary', start: new Date(r.startedAt).toISOString(), end: new Date(r.endedAt).toISOString(), interrupted: r.interrupted, attempts: r.attempts, failed: r.failed, outages: r.windows.length, longestMs: Math.round(r.longestMs), totalOutageMs: Math.round(r.totalOutageMs), windows: r.windows.map(windowJson) });
        return;
      }
      const availability = r.attempts ? (100 * (r.attempts - r.failed)) / r.attempts : 100;
      line('');
      line(`summary: ${r.attempts} attempts in ${seconds(r.endedAt - r.startedAt)}${r.interrupted ? ' (interrupted)' : ''}, ${r.failed} failed (${availability.toFixed(2)}% succeeded), ${r.windows.length} outage(s)${r.windows.length ? `, longest ${seconds(r.longestMs)}, total ${seconds(r.totalOutageMs)}` : ''}`);
      if (r.windows.length === 0) return;
      line('  #  START         END           LENGTH   FAILED  REASONS');
      r.windows.forEach((w, i) => line(`  ${String(i + 1).padEnd(2)} ${time(w.start)}  ${time(w.end)}  ${seconds(w.lengthMs).padEnd(7)}  ${String(w.failedAttempts).padEnd(6)}  ${reasons(w.errors)}${w.ongoing ? ' (ongoing)' : ''}`));
    },
  };
}
