// The admin surface cannot be held by slow or idle clients (issue 9, item 7): header and body timeouts
// that really fire, a cap on connections, and a client that gives up mid-request is a debug line.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../src/log.js';
import { ADMIN_LIMITS, startAdminServer, type AdminLimits, type AdminServer } from '../../../src/runtime/admin/server.js';
import { fakeBackend } from '../../unit/admin/fixture.js';

interface Logged { level: number; event?: string; msg: string }

async function admin(t: { after(fn: () => unknown): void }, limits?: AdminLimits): Promise<{ server: AdminServer; port: number; logs: Logged[] }> {
  const logs: Logged[] = [];
  const destination = new Writable({ write(line: Buffer, _e, done) { logs.push(JSON.parse(line.toString()) as Logged); done(); } });
  const server = await startAdminServer({ host: '127.0.0.1', port: 0, backend: fakeBackend(), logger: createLogger({ level: 'debug', destination, pretty: false }), limits });
  t.after(() => server.close());
  return { server, port: Number(new URL(server.url).port), logs };
}

/** Opens a connection, runs `behave` on it, and resolves how long the server took to close it. */
function closedAfter(port: number, behave: (socket: Socket) => void): Promise<{ ms: number; answer: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let answer = '';
    let trickle: NodeJS.Timeout | undefined;
    socket.on('connect', () => behave(socket));
    socket.on('data', (d) => { answer += d.toString(); });
    socket.on('error', () => undefined);
    socket.on('close', () => { clearInterval(trickle); resolve({ ms: Date.now() - started, answer }); });
    // A slow body: one byte a second, never finished.
    socket.once('slow-body', () => { trickle = setInterval(() => socket.write(' '), 300); });
  });
}

const PUT_HEAD = 'PUT /api/nodes/cp-01/admin-state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n';

test('a client that sends nothing, or trickles its headers, is cut after the header timeout (5 s), not 30 s', async (t) => {
  const { port } = await admin(t);
  const bound = ADMIN_LIMITS.headersTimeoutMs + ADMIN_LIMITS.checkEveryMs + 1000;
  const [silent, partial] = await Promise.all([
    closedAfter(port, () => undefined),
    closedAfter(port, (s) => { s.write('GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n'); const i = setInterval(() => s.write('X-A: b\r\n'), 500); s.once('close', () => clearInterval(i)); }),
  ]);
  for (const [name, result] of [['silent', silent], ['partial headers', partial]] as const) {
    assert.ok(result.ms >= ADMIN_LIMITS.headersTimeoutMs - 100 && result.ms <= bound, `${name}: closed after ${result.ms} ms`);
    assert.match(result.answer, /^HTTP\/1\.1 408 /, name);
  }
});

test('a body that trickles in is cut at the request timeout; the abandoned PUT is a debug line, not an error', async (t) => {
  const limits: AdminLimits = { ...ADMIN_LIMITS, headersTimeoutMs: 800, requestTimeoutMs: 1500, checkEveryMs: 200 };
  const { port, logs } = await admin(t, limits);
  const slow = await closedAfter(port, (s) => { s.write(`${PUT_HEAD}{"adminState":`); s.emit('slow-body'); });
  assert.ok(slow.ms >= 1400 && slow.ms <= 1500 + 200 + 1000, `closed after ${slow.ms} ms`);
  assert.match(slow.answer, /^HTTP\/1\.1 408 /);

  // A client that aborts its PUT half-way (kubectl-style ^C, a dropped link).
  await closedAfter(port, (s) => { s.write(`${PUT_HEAD}{"adminState":"dr`); setTimeout(() => s.resetAndDestroy(), 50); });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(logs.filter((l) => l.level >= 40).map((l) => l.msg), [], 'no warning or error for a client that went away');
  const gone = logs.filter((l) => l.event === 'admin-client-gone');
  assert.equal(gone.length, 2, JSON.stringify(logs));
  for (const line of gone) {
    assert.equal(line.level, 20);
    assert.doesNotMatch(JSON.stringify(line), /\n\s+at /, 'no stack trace');
  }
  // And the server still answers.
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/status`)).status, 200);
});

test('connections beyond the cap are closed at once, logged once; the surface answers again when one frees up', async (t) => {
  const limits: AdminLimits = { ...ADMIN_LIMITS, maxConnections: 4 };
  const { port, logs } = await admin(t, limits);
  const held: Socket[] = [];
  t.after(() => { for (const s of held) s.destroy(); });
  for (let i = 0; i < 4; i++) {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    held.push(socket);
  }
  await new Promise((r) => setTimeout(r, 50));
  const extra = await Promise.all([0, 1, 2].map(() => closedAfter(port, (s) => s.write('GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))));
  for (const result of extra) {
    assert.equal(result.answer, '', 'no answer beyond the cap');
    assert.ok(result.ms < 1000, `closed after ${result.ms} ms`);
  }
  const full = logs.filter((l) => l.event === 'admin-connections-full');
  assert.equal(full.length, 1, 'one line for a burst');
  assert.equal(full[0].level, 40);
  held.pop()!.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/status`)).status, 200);
});
