import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
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

/**
 * A listener that never accepts (its process is blocked) with a backlog of one: once its queue is full the
 * kernel drops further SYNs, so a connect to it never completes — a black hole on loopback.
 */
export async function blackHole(): Promise<{ port: number; close(): void }> {
  const code = `const s = require('node:net').createServer().listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
    process.stdout.write(s.address().port + '\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
  });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', () => reject(new Error('the black-hole listener exited')));
  });
  // Fill the accept queue: connects complete until it is full, then hang.
  const fillers: Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => { clearTimeout(timer); resolve(true); });
    });
    if (!connected) break;
  }
  return { port, close: () => { for (const s of fillers) s.destroy(); child.kill('SIGKILL'); } };
}
