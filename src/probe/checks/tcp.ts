import { connect } from 'node:net';
import { errorCode } from '../../health/probes/attempt.js';

export interface TcpResult { ok: boolean; ms?: number; error?: string }

/** One TCP connect; its time is the handshake (SYN → SYN/ACK) as the client sees it. */
export function checkTcp(host: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: TcpResult) => { clearTimeout(timer); socket.destroy(); resolve(result); };
    const timer = setTimeout(() => done({ ok: false, error: `timeout after ${timeoutMs}ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true, ms: round(performance.now() - started) }));
    socket.once('error', (error) => done({ ok: false, error: errorCode(error) }));
  });
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
