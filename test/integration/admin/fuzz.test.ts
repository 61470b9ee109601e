// Property-based tests of every admin route over a real daemon's admin server (issue 9: "no 500 for any
// input"). Requests are written on raw sockets, so methods, targets, headers and bodies are exactly what
// fast-check generated. Every answer must be a 2xx/3xx/4xx (or node closing a request it cannot parse),
// arrive quickly, and leave the server answering; nothing may be logged at error level.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { createLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/runtime/daemon.js';
import { specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';

interface RawAnswer { status: number | undefined; json: boolean; body: string; ms: number }

/** Writes `bytes` to host:port, half-closes, and reads the whole answer (or none, if the server closes). */
function raw(port: number, bytes: Buffer | string): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer within 8 s to ${JSON.stringify(String(bytes).slice(0, 200))}`)); }, 8000);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer is fine; the status is what counts
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const json = /^content-type: application\/json/im.test(head);
      resolve({ status: match ? Number(match[1]) : undefined, json, body: text.slice(head.length + 4), ms: Date.now() - started });
    });
  });
}

function request(method: string, target: string, headers: Array<[string, string]>, body: string): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`), 'connection: close'];
  if (body !== '' || method === 'PUT') lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

async function startFuzzTarget(t: { after(fn: () => unknown): void }, token?: string): Promise<{ daemon: Daemon; adminPort: number; errors: string[] }> {
  const backends = await startBackends(['cp-01', 'cp-02']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const adminPort = await freePort();
  const spec = await tempSpec(specFor({ port: await freePort(), adminPort, backends, balancer: token ? { adminToken: token } : {} }));
  t.after(() => spec.cleanup());
  const errors: string[] = [];
  const destination = new Writable({
    write(line: Buffer, _encoding, done) {
      if ((JSON.parse(line.toString()) as { level: number }).level >= 50) errors.push(line.toString());
      done();
    },
  });
  const daemon = await startDaemon({ specPath: spec.path, logger: createLogger({ level: 'debug', destination, pretty: false }) });
  t.after(() => daemon.destroy());
  return { daemon, adminPort, errors };
}

// Names the daemon knows, and others: a fuzzed PUT sometimes hits a real server.
const segment = fc.oneof(
  fc.constantFrom('kubernetes', 'cp-01', 'cp-02', 'talos', '..', '.', '%', '%zz', '%2F', '%00', 'a%2Fb'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 12 }).map(encodeURIComponent),
  fc.stringMatching(/^[!-~]{0,16}$/).map((s) => s.replace(/[/?#]/g, '')),
);
const target = fc.oneof(
  fc.constantFrom('/', '/?fragment=1', '/api/status', '/metrics', '/favicon.ico', '*', '//', '//[', 'http://x:99999/', 'http://admin/api/status', '/api/status?x=%zz', '/%', '/api/nodes//admin-state'),
  segment.map((n) => `/api/nodes/${n}/admin-state`),
  fc.tuple(segment, segment).map(([l, s]) => `/api/servers/${l}/${s}/admin-state`),
  fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
  fc.webPath().filter((p) => p.startsWith('/')),
);
const adminStateValue = fc.oneof(
  fc.constantFrom('ready', 'drain', 'maint', 'READY', ' drain', ''),
  fc.constant({ toString: 1 }),
  fc.constant({ valueOf: null, toString: null }),
  fc.constant(['drain']),
  fc.jsonValue(),
);
const body = fc.oneof(
  adminStateValue.map((adminState) => JSON.stringify({ adminState })),
  fc.record({ adminState: adminStateValue, extra: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.constantFrom('', '{', 'null', '[]', '"drain"', '{"__proto__":{"adminState":"drain"}}', '{"adminState":"drain","adminState":"maint"}', '\u0000', '{"adminState":"drain"}x'),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.nat({ max: 9000 }).map((n) => JSON.stringify({ adminState: 'x'.repeat(n) })),
);
const method = fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'BREW');

function hosts(adminPort: number) {
  return fc.oneof(
    fc.constantFrom(`127.0.0.1:${adminPort}`, 'localhost', '[::1]:1', '127.attacker.example', '127.0.0.1.nip.example', '[', ']', ':', '', '[::1', 'localhost.'),
    fc.domain(),
    fc.webAuthority(),
  );
}

function headersFor(adminPort: number, token: string | undefined) {
  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('Bearer', 'Basic', 'Basic %%%', 'Basic Og==', 'Bearer  ', 'Negotiate abc'),
    token ? fc.constantFrom(`Bearer ${token}`, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`) : fc.constant(undefined),
    fc.string({ maxLength: 40 }).map((s) => `Bearer ${s.replace(/[\r\n]/g, '')}`),
  );
  return fc.record({
    host: fc.option(hosts(adminPort), { nil: undefined }),
    authorization,
    contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', ''), { nil: undefined }),
    accept: fc.option(fc.constantFrom('application/json', 'text/html', '*/*'), { nil: undefined }),
  }).map((h) => {
    const list: Array<[string, string]> = [];
    if (h.host !== undefined) list.push(['host', h.host]);
    if (h.authorization !== undefined) list.push(['authorization', h.authorization]);
    if (h.contentType !== undefined) list.push(['content-type', h.contentType]);
    if (h.accept !== undefined) list.push(['accept', h.accept]);
    return list;
  });
}

function checkAnswer(answer: RawAnswer, sent: string): void {
  const where = JSON.stringify(sent.slice(0, 300));
  // undefined: node's parser refused the request outright and closed (it answers 400 where it can).
  if (answer.status === undefined) return;
  assert.ok(answer.status >= 200 && answer.status < 500, `status ${answer.status} for ${where}: ${answer.body.slice(0, 300)}`);
  assert.ok(answer.ms < 3000, `${answer.ms} ms for ${where}`);
  // Our own errors are JSON with a stable code; node's own refusals (a request without Host, a bad
  // request line: 400 with an empty body) are not ours.
  if (answer.status >= 400 && answer.json && !sent.startsWith('HEAD ')) {
    const parsed = JSON.parse(answer.body) as { error?: { code?: string; message?: string } };
    assert.match(parsed.error?.code ?? '', /^ADMIN_/, where);
    assert.ok(parsed.error?.message, where);
  }
}

for (const token of [undefined, 'fuzz-token-0123456789abcdef']) {
  test(`every route, any method, target, header and body: never a 5xx (${token ? 'with' : 'without'} a token)`, async (t) => {
    const { adminPort, errors, daemon } = await startFuzzTarget(t, token);
    await fc.assert(
      fc.asyncProperty(method, target, headersFor(adminPort, token), body, async (m, path, headers, text) => {
        const sent = request(m, path, headers, text);
        checkAnswer(await raw(adminPort, sent), sent);
      }),
      { numRuns: 400 },
    );
    assert.deepEqual(errors, [], 'nothing is logged at error level');
    // Still serving, and the servers it knows are still there.
    assert.equal(daemon.snapshot().listeners[0].servers.length, 2);
    const ok = await raw(adminPort, request('GET', '/api/status', [['host', '127.0.0.1'], ...(token ? [['authorization', `Bearer ${token}`] as [string, string]] : [])], ''));
    assert.equal(ok.status, 200);
  });
}

test('the admin-state body: any JSON value gets 200 or a 400 that names it, never a 500', async (t) => {
  const { adminPort, errors } = await startFuzzTarget(t);
  await fc.assert(
    fc.asyncProperty(fc.oneof(body, fc.anything().map((v) => { try { return JSON.stringify(v) ?? ''; } catch { return String(typeof v); } })), async (text) => {
      const sent = request('PUT', '/api/nodes/cp-01/admin-state', [['host', '127.0.0.1'], ['content-type', 'application/json']], text);
      const answer = await raw(adminPort, sent);
      checkAnswer(answer, sent);
      assert.ok(answer.status === 200 || answer.status === 400 || answer.status === 413, `${answer.status} for ${JSON.stringify(text.slice(0, 100))}`);
    }),
    { numRuns: 400 },
  );
  const tricky = await raw(adminPort, request('PUT', '/api/nodes/cp-01/admin-state', [['host', '127.0.0.1']], '{"adminState":{"toString":1}}'));
  assert.equal(tricky.status, 400);
  assert.match(tricky.body, /\{\\"toString\\":1\} is not an admin state/);
  assert.deepEqual(errors, []);
});

test('arbitrary bytes on the admin port: a 4xx or a close, and the server keeps answering', async (t) => {
  const { adminPort, errors } = await startFuzzTarget(t);
  await fc.assert(
    fc.asyncProperty(fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(`GET /${s}\r\n\r\n`, 'latin1')),
      fc.string({ maxLength: 300 }).map((s) => Buffer.from(`PUT /api/nodes/cp-01/admin-state HTTP/1.1\r\n${s}\r\n\r\n`)),
    ), async (bytes) => {
      const answer = await raw(adminPort, bytes);
      if (answer.status !== undefined) assert.ok(answer.status < 500, `${answer.status} for ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
    }),
    { numRuns: 300 },
  );
  assert.ok(await waitFor(async () => (await raw(adminPort, request('GET', '/api/status', [['host', '127.0.0.1']], ''))).status === 200, 2000));
  assert.deepEqual(errors, []);
});
