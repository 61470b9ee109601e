// The admin surface under load (issue 24, item 5): however many clients poll it, an answer is made at most
// once per OUTPUT_TTL_MS from one snapshot, in slices, and each client address gets a bounded share.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { OUTPUT_TTL_MS } from '../../../src/runtime/admin/outputs.js';
import { jsonPieces, renderInSlices } from '../../../src/runtime/admin/slices.js';
import { fakeBackend, largeSnapshot, startTestAdmin } from './fixture.js';

test('jsonPieces joined is exactly JSON.stringify(value, null, 2), for any JSON-like value', () => {
  fc.assert(fc.property(fc.anything({ withSparseArray: true, withNullPrototype: false, withBigInt: false, withDate: true, withMap: false, withSet: false, withObjectString: false, withBoxedValues: false }), fc.integer({ min: 0, max: 6 }), (value, depth) => {
    if (value === undefined) return;
    assert.equal([...jsonPieces(value, depth)].join(''), JSON.stringify(value, null, 2));
  }), { numRuns: 500 });
});

test('renderInSlices yields to the event loop between slices: a timer set before it fires while it runs', async () => {
  const pieces = function* () { for (let i = 0; i < 2000; i++) { const until = performance.now() + 0.05; while (performance.now() < until) { /* 50 µs of work */ } yield `${i}\n`; } };
  let fired = 0;
  const timer = setInterval(() => fired++, 1);
  const body = await renderInSlices(pieces(), 4);
  clearInterval(timer);
  assert.equal(body.toString(), Array.from({ length: 2000 }, (_, i) => `${i}\n`).join(''));
  assert.ok(fired >= 5, `the timer fired ${fired} times during 100 ms of slicing`);
});

/** GET path on base, body read whole; resolves with the status and the body's length. */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => { bytes += d.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('many clients polling /metrics, /api/status and the page cost one snapshot per second, not one per request', async (t) => {
  const backend = fakeBackend(largeSnapshot(300));
  let snapshots = 0;
  const snapshot = backend.snapshot;
  backend.snapshot = () => { snapshots++; return snapshot(); };
  const { admin } = await startTestAdmin(t, { backend, limits: { perClient: 16, perClientBytesPerSecond: 1 << 30 } });
  const started = Date.now();
  let answers = 0;
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    while (Date.now() - started < 1500) {
      const { status } = await get(admin.url, ['/metrics', '/api/status', '/', '/?fragment=1'][i % 4]);
      assert.equal(status, 200);
      answers++;
    }
  }));
  const seconds = (Date.now() - started) / 1000;
  assert.ok(answers > 20, `${answers} answers`);
  assert.ok(snapshots <= Math.ceil(seconds * 1000 / OUTPUT_TTL_MS) + 1, `${snapshots} snapshots for ${answers} answers in ${seconds.toFixed(1)} s`);
  // A change through the API is seen at once, not a second later.
  const put = await fetch(`${admin.url}/api/nodes/n0001/admin-state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"adminState":"drain"}' });
  assert.equal(put.status, 200);
  const status = await (await fetch(`${admin.url}/api/status`)).json() as { listeners: Array<{ servers: Array<{ name: string; adminState: string }> }> };
  assert.equal(status.listeners[0].servers.find((s) => s.name === 'n0001')?.adminState, 'drain');
});

test('one client address has 2 requests in progress and 32 waiting; more get 429 ADMIN_BUSY with Retry-After', async (t) => {
  // A small byte budget keeps the first answer in progress for seconds, holding its turn.
  const { admin } = await startTestAdmin(t, { backend: fakeBackend(largeSnapshot(300)), limits: { perClient: 1, perClientWaiting: 1, perClientBytesPerSecond: 64 * 1024 } });
  const url = new URL(admin.url);
  const first = request({ host: url.hostname, port: url.port, path: '/metrics' });
  t.after(() => { first.destroy(); });
  first.on('error', () => undefined);
  const answering = new Promise<import('node:http').IncomingMessage>((resolve) => first.once('response', resolve));
  first.end();
  const response = await answering; // its headers are out: it holds the one turn while its body trickles
  response.resume();
  const waiting = get(admin.url, '/api/status'); // waits for that turn
  await new Promise((r) => setTimeout(r, 100));
  const busy = await fetch(`${admin.url}/api/status`);
  assert.equal(busy.status, 429);
  assert.equal(busy.headers.get('retry-after'), '1');
  assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'ADMIN_BUSY');
  first.destroy(); // its turn goes to the one waiting
  assert.equal((await waiting).status, 200);
});

test('a client address is sent at most its byte budget per second, however fast it polls', async (t) => {
  const budget = 512 * 1024;
  const { admin } = await startTestAdmin(t, { backend: fakeBackend(largeSnapshot(1000)), limits: { perClientBytesPerSecond: budget } });
  const started = Date.now();
  let bytes = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() - started < 2000) bytes += (await get(admin.url, '/metrics')).bytes;
  }));
  const seconds = (Date.now() - started) / 1000;
  // The first budget is a burst; after it, the rate.
  assert.ok(bytes <= budget * (seconds + 1) + 64 * 1024, `${bytes} bytes in ${seconds.toFixed(1)} s with a budget of ${budget}/s`);
  assert.ok(bytes >= budget, 'it was sent something');
  // gzip, when asked for, is the same answer compressed.
  const zipped = await fetch(`${admin.url}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(zipped.headers.get('content-encoding'), 'gzip');
  assert.match(await zipped.text(), /^# HELP haproxy_frontend_current_sessions/);
});
