// The outage watcher: opens a new connection at a fixed rate, makes one check on it, feeds the results to the
// OutageTracker, and reports events as they complete. Bounded by its duration and by an AbortSignal.
//
// Behind a balancer a bare TCP connect proves little: the balancer accepts every connection itself, with or
// without a server behind it. So each check waits for something only a server can send — a TLS handshake, an
// HTTP answer — and a connection closed before any byte counts as a failure.
import { request } from 'node:https';
import { connect, isIP } from 'node:net';
import { errorCode } from '../health/probes/attempt.js';
import { handshakeOnce } from '../health/probes/tls.js';
import { OutageTracker, type AttemptResult, type OutageEvent, type OutageSummary, type Progress } from './outage.js';

/** What one attempt does on its new connection. */
export type WatchCheck =
  /** Connect; then a close or reset before any byte within `holdMs` is a failure (a balancer with no server behind it). */
  | { type: 'tcp'; holdMs: number }
  /** A TLS handshake; a TLS alert from the server is an answer too (e.g. apid asking for a client certificate). */
  | { type: 'tls' }
  /** A TLS handshake and GET `path`; up when the status is in `expect`. */
  | { type: 'https'; path: string; expect: number[] };

export interface WatchOptions {
  host: string;
  port: number;
  ratePerSecond: number;
  durationMs: number;
  /** Per attempt. */
  timeoutMs: number;
  check: WatchCheck;
  signal?: AbortSignal;
  onEvent(event: OutageEvent): void;
  /** Called about once a second with the counts so far (the live line). */
  onProgress?(progress: Progress): void;
}

export interface WatchResult extends OutageSummary { startedAt: number; endedAt: number; interrupted: boolean }

/** How long a tcp check keeps a quiet connection open to see whether the other side closes it. */
export const TCP_HOLD_MS = 1000;
const PROGRESS_EVERY_MS = 1000;

export async function runWatch(o: WatchOptions): Promise<WatchResult> {
  const tracker = new OutageTracker();
  const intervalMs = 1000 / o.ratePerSecond;
  const startedAt = Date.now();
  const deadline = startedAt + o.durationMs;
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const emit = (events: OutageEvent[]) => { for (const e of events) o.onEvent(e); };
  const progress = o.onProgress && setInterval(() => o.onProgress?.(tracker.progress()), PROGRESS_EVERY_MS);
  try {
    while (!o.signal?.aborted) {
      const due = startedAt + seq * intervalMs;
      if (due >= deadline) break;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, o.signal);
      if (o.signal?.aborted) break;
      const attempt: AttemptResult = { seq: seq++, startedAt: Date.now(), ok: false };
      const done = once(o).then((outcome) => {
        emit(tracker.record({ ...attempt, ...outcome }));
        inFlight.delete(done);
      });
      inFlight.add(done);
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(progress);
  }
  const endedAt = Math.min(Date.now(), deadline);
  emit(tracker.finish(endedAt));
  return { ...tracker.summary(), startedAt, endedAt, interrupted: o.signal?.aborted ?? false };
}

type Outcome = { ok: boolean; error?: string };

function once(o: WatchOptions): Promise<Outcome> {
  const { check } = o;
  if (check.type === 'https') return httpsAttempt(o, check);
  if (check.type === 'tls') return tlsAttempt(o);
  return tcpAttempt(o, check.holdMs);
}

function tcpAttempt(o: WatchOptions, holdMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: o.host, port: o.port });
    let hold: NodeJS.Timeout | undefined;
    const finish = (result: Outcome) => { clearTimeout(timer); clearTimeout(hold); socket.destroy(); resolve(result); };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), o.timeoutMs);
    socket.once('connect', () => {
      // Nothing to say and nobody closing: someone is there. The attempt's timeout still bounds the wait.
      hold = setTimeout(() => finish({ ok: true }), holdMs);
    });
    socket.once('data', () => finish({ ok: true }));
    socket.once('end', () => finish({ ok: false, error: 'closed' }));
    socket.once('error', (error) => finish({ ok: false, error: errorCode(error) }));
  });
}

async function tlsAttempt(o: WatchOptions): Promise<Outcome> {
  const result = await handshakeOnce(() => ({ host: o.host, port: o.port, rejectUnauthorized: false, ...(isIP(o.host) ? {} : { servername: o.host }) }), o.timeoutMs, AbortSignal.timeout(o.timeoutMs));
  if (result.ok) return { ok: true };
  const error = result.error ?? 'failed';
  // An alert is the server's own answer to our handshake: it is there.
  if (/_ALERT_/.test(error)) return { ok: true };
  return { ok: false, error: /^timeout/.test(error) ? 'timeout' : error };
}

function httpsAttempt(o: WatchOptions, https: { path: string; expect: number[] }): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({
      host: o.host, port: o.port, path: https.path, method: 'GET', agent: false, rejectUnauthorized: false,
      headers: { 'user-agent': 'cluster-endpoint-watch', accept: '*/*' },
      ...(isIP(o.host) ? {} : { servername: o.host }), signal: AbortSignal.timeout(o.timeoutMs),
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(https.expect.includes(res.statusCode ?? 0) ? { ok: true } : { ok: false, error: `HTTP ${res.statusCode}` }));
      res.on('error', (error) => resolve({ ok: false, error: errorCode(error) }));
    });
    req.on('error', (error) => resolve({ ok: false, error: (error as { name?: string }).name === 'AbortError' ? 'timeout' : errorCode(error) }));
    req.end();
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}
