import { connect } from 'node:net';
import { tryBind } from '../../src/demo/ports.js';

/** A TCP port that was free a moment ago on host (default 127.0.0.1). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const port = await tryBind(host, 0);
  if (port === undefined) throw new Error(`cannot bind ${host}`);
  return port;
}

/** Resolves true when a TCP connect to host:port succeeds within timeoutMs. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve(false); }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve(true); });
    socket.once('error', () => { clearTimeout(timer); resolve(false); });
  });
}

/** Polls until predicate() is truthy or timeoutMs passes; returns the last value. */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
