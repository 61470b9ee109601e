// The outage watcher: opens a new connection (or HTTPS request) at a fixed rate, feeds the results to the
// OutageTracker, and reports events as they complete. Bounded by its duration and by an AbortSignal.
import { request } from 'node:https';
import { connect, isIP } from 'node:net';
import { errorCode } from '../health/probes/attempt.js';
import { OutageTracker, type AttemptResult, type OutageEvent, type OutageSummary } from './outage.js';

export interface WatchOptions {
  host: string;
  port: number;
  ratePerSecond: number;
  durationMs: number;
  /** Per attempt. */
  timeoutMs: number;
  /** HTTPS GET this path instead of a bare TCP connect; ok when the status is in `expect`. */
  https?: { path: string; expect: number[] };
  signal?: AbortSignal;
  onEvent(event: OutageEvent): void;
}

export interface WatchResult extends OutageSummary { startedAt: number; endedAt: number; interrupted: boolean }

export async function runWatch(o: WatchOptions): Promise<WatchResult> {
  const tracker = new OutageTracker();
  const intervalMs = 1000 / o.ratePerSecond;
  const startedAt = Date.now();
  const deadline = startedAt + o.durationMs;
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const emit = (events: OutageEvent[]) => { for (const e of events) o.onEvent(e); };
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
  const endedAt = Math.min(Date.now(), deadline);
  emit(tracker.finish(endedAt));
  return { ...tracker.summary(), startedAt, endedAt, interrupted: o.signal?.aborted ?? false };
}

function once(o: WatchOptions): Promise<{ ok: boolean; error?: string }> {
  return o.https ? httpsAttempt(o, o.https) : tcpAttempt(o);
}

function tcpAttempt(o: WatchOptions): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: o.host, port: o.port });
    const finish = (result: { ok: boolean; error?: string }) => { clearTimeout(timer); socket.destroy(); resolve(result); };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), o.timeoutMs);
    socket.once('connect', () => finish({ ok: true }));
    socket.once('error', (error) => finish({ ok: false, error: errorCode(error) }));
  });
}

function httpsAttempt(o: WatchOptions, https: { path: string; expect: number[] }): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const req = request({
      host: o.host, port: o.port, path: https.path, method: 'GET', agent: false, rejectUnauthorized: false,
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
