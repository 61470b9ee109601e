import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseHostHeader } from '../../../src/runtime/admin/guard.js';
import { fakeBackend, startTestAdmin } from './fixture.js';

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: response.status, headers: response.headers, body, text };
}

const put = (body: string, headers: Record<string, string> = {}): RequestInit => ({ method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body });

test('GET /api/status returns the snapshot with stable keys', async (t) => {
  const { admin } = await startTestAdmin(t);
  const res = await call(`${admin.url}/api/status`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.deepEqual(res.body.listeners.map((l: any) => [l.name, l.port]), [['kubernetes', 6443], ['talos', 50000]]);
  const cp02 = res.body.listeners[0].servers[1];
  assert.deepEqual(
    { name: cp02.name, address: cp02.address, port: cp02.port, state: cp02.state, adminState: cp02.adminState, activeConnections: cp02.activeConnections, totalConnections: cp02.totalConnections },
    { name: 'cp-02', address: '127.0.0.12', port: 6443, state: 'down', adminState: 'ready', activeConnections: 0, totalConnections: 48 },
  );
  assert.equal(res.body.spec.cluster, 'rciis');
});

test('HEAD answers like GET without a body', async (t) => {
  const { admin } = await startTestAdmin(t);
  const res = await fetch(`${admin.url}/api/status`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.ok(Number(res.headers.get('content-length')) > 100);
  assert.equal(await res.text(), '');
});

test('PUT /api/servers/{listener}/{server}/admin-state changes one server', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const res = await call(`${admin.url}/api/servers/kubernetes/cp-01/admin-state`, put('{"adminState":"drain"}'));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(backend.calls, [{ target: { server: 'cp-01', listener: 'kubernetes' }, state: 'drain' }]);
  assert.equal(res.body.changed, 1);
  assert.deepEqual(res.body.servers, [{ listener: 'kubernetes', server: 'cp-01', state: 'up', adminState: 'drain', activeConnections: 3 }]);
  // Visible in the status right away; the same node on the other listener is untouched.
  const status = await call(`${admin.url}/api/status`);
  assert.equal(status.body.listeners[0].servers[0].adminState, 'drain');
  assert.equal(status.body.listeners[1].servers[0].adminState, 'ready');
});

test('PUT /api/nodes/{node}/admin-state changes the node on every listener', async (t) => {
  const { admin } = await startTestAdmin(t);
  const res = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"maint"}'));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.matched, 2);
  assert.equal(res.body.changed, 2);
  assert.deepEqual(res.body.servers.map((s: any) => [s.listener, s.adminState]), [['kubernetes', 'maint'], ['talos', 'maint']]);
  const again = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"maint"}'));
  assert.deepEqual([again.status, again.body.matched, again.body.changed], [200, 2, 0], 'repeating is harmless and says nothing changed');
  const back = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"ready"}'));
  assert.equal(back.status, 200);
  const status = await call(`${admin.url}/api/status`);
  assert.deepEqual(status.body.listeners.map((l: any) => l.servers[0].adminState), ['ready', 'ready']);
});

test('bad bodies get 400 with a message that says what to send', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const cases: Array<[string, RegExp]> = [
    ['{"adminState":', /not valid JSON/],
    ['', /no body/],
    ['"drain"', /must be a JSON object/],
    ['{"adminState":"paused"}', /"paused" is not an admin state/],
    ['{"state":"drain"}', /unknown key "state"/],
    ['{}', /"adminState" is missing/],
  ];
  for (const [body, message] of cases) {
    const res = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put(body));
    assert.equal(res.status, 400, body);
    assert.equal(res.body.error.code, 'ADMIN_BAD_REQUEST');
    assert.match(res.body.error.message, message);
    assert.ok(res.body.error.hint, `hint for ${body}`);
  }
  assert.equal(backend.calls.length, 0);
  const big = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put(JSON.stringify({ adminState: 'x'.repeat(10_000) })));
  assert.equal(big.status, 413);
});

test('unknown servers, nodes, listeners and pages get 404', async (t) => {
  const { admin } = await startTestAdmin(t);
  const node = await call(`${admin.url}/api/nodes/cp-09/admin-state`, put('{"adminState":"drain"}'));
  assert.equal(node.status, 404);
  assert.equal(node.body.error.code, 'ADMIN_NOT_FOUND');
  assert.match(node.body.error.message, /cp-09/);
  assert.match(node.body.error.hint, /cp-01, cp-02, cp-03/);
  const server = await call(`${admin.url}/api/servers/nope/cp-01/admin-state`, put('{"adminState":"drain"}'));
  assert.equal(server.status, 404);
  assert.match(server.body.error.hint, /listeners: kubernetes, talos/);
  const page = await call(`${admin.url}/api/nothing`);
  assert.equal(page.status, 404);
  assert.match(page.body.error.hint, /GET \/api\/status/);
});

test('wrong methods get 405 with Allow', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const get = await call(`${admin.url}/api/nodes/cp-01/admin-state`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'PUT');
  assert.equal(get.body.error.code, 'ADMIN_METHOD_NOT_ALLOWED');
  const post = await call(`${admin.url}/api/servers/kubernetes/cp-01/admin-state`, { method: 'POST', body: '{"adminState":"drain"}' });
  assert.equal(post.status, 405);
  const del = await call(`${admin.url}/api/status`, { method: 'DELETE' });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get('allow'), 'GET, HEAD');
  assert.equal(backend.calls.length, 0);
});

test('with a token every route needs it (Bearer, or Basic password for browsers)', async (t) => {
  const token = 'correct-horse-battery-staple';
  const { admin, backend } = await startTestAdmin(t, { token });
  for (const path of ['/', '/api/status', '/metrics', '/nope']) {
    const res = await call(`${admin.url}${path}`);
    assert.equal(res.status, 401, path);
    assert.equal(res.body.error.code, 'ADMIN_UNAUTHORIZED');
    assert.match(res.headers.get('www-authenticate') ?? '', /Bearer realm="cluster-endpoint"/);
    assert.match(res.headers.get('www-authenticate') ?? '', /Basic realm=/);
  }
  const wrong = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"drain"}', { authorization: `Bearer ${token}x` }));
  assert.equal(wrong.status, 401);
  const short = await call(`${admin.url}/api/status`, { headers: { authorization: 'Bearer c' } });
  assert.equal(short.status, 401);
  assert.equal(backend.calls.length, 0);
  const ok = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"drain"}', { authorization: `Bearer ${token}` }));
  assert.equal(ok.status, 200);
  const basic = await call(`${admin.url}/api/status`, { headers: { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` } });
  assert.equal(basic.status, 200);
  // A token-protected server accepts any Host (it is meant to be reached by name).
  const named = await rawGet(admin.url, '/api/status', { host: 'lb.example.test:8404', authorization: `Bearer ${token}` });
  assert.equal(named.status, 200);
});

test('without a token, a Host header that is a DNS name is refused (DNS rebinding)', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const rebound = await rawGet(admin.url, '/api/status', { host: 'attacker.example.test:8404' });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /ADMIN_FORBIDDEN_HOST/);
  for (const host of ['127.0.0.1:1', 'localhost:8404', '[::1]:8404']) {
    assert.equal((await rawGet(admin.url, '/api/status', { host })).status, 200, host);
  }
  assert.equal(backend.calls.length, 0);
});

test('a DNS name that starts with "127." is a name, not loopback: no PUT through it without a token', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  for (const host of ['127.attacker.example', '127.0.0.1.nip.example:8404', '127.1.example:8404']) {
    const answer = await rawRequest(admin.url, 'PUT', '/api/nodes/cp-01/admin-state', { host, 'content-type': 'application/json' }, '{"adminState":"maint"}');
    assert.equal(answer.status, 403, host);
    assert.match(answer.body, /ADMIN_FORBIDDEN_HOST/);
  }
  assert.equal(backend.calls.length, 0);
});

/** One request written byte for byte (no client library second-guessing the headers); resolves with the status. */
function rawStatus(base: string, head: string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let text = '';
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => { text += d.toString(); });
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}

test('a malformed Host header is a 400, with or without a token (issue 24, item 8)', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const token = 'a-token-of-sixteen-chars';
  const { admin: guarded } = await startTestAdmin(t, { token });
  const malformed = ['127.0.0.1:abc', '[::1', '[::1]:', '127.0.0.1:99999', '127.0.0.1:0', '127.0.0.1:8404:1', '999.1.1.1', '1.2.3', 'a b', '[127.0.0.1]:80', 'host/path', 'user@127.0.0.1', ''];
  for (const host of malformed) {
    for (const [base, auth] of [[admin.url, ''], [guarded.url, `Authorization: Bearer ${token}\r\n`]] as const) {
      const answer = await rawStatus(base, `GET /api/status HTTP/1.1\r\nHost: ${host}\r\n${auth}Connection: close\r\n\r\n`);
      assert.equal(answer.status, 400, `Host "${host}" ${auth ? 'with' : 'without'} a token: ${answer.text.slice(0, 200)}`);
    }
  }
  assert.equal(backend.calls.length, 0);
  // Any printable value: accepted exactly when it parses as host[:port].
  await fc.assert(fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'0123456789abcdef.:[]-_ @/%x'.split('')), maxLength: 24 }), async (host) => {
    const answer = await rawStatus(guarded.url, `GET /api/status HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    assert.equal(answer.status === 400, parseHostHeader(host.trim()) === undefined, `Host "${host}" → ${answer.status}`);
  }), { numRuns: 150 });
});

test('a PUT from another site\'s page (Origin) is refused, token or not; the status page\'s own and Origin-less clients are not', async (t) => {
  const token = 'a-token-of-sixteen-chars';
  for (const withToken of [false, true]) {
    const { admin, backend } = await startTestAdmin(t, withToken ? { token } : {});
    const auth: Record<string, string> = withToken ? { authorization: `Bearer ${token}` } : {};
    for (const origin of ['http://evil.example', 'null', 'https://127.0.0.1:1', `http://localhost:${new URL(admin.url).port}`]) {
      const answer = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"maint"}', { ...auth, origin }));
      assert.equal(answer.status, 403, `${origin}: ${answer.text}`);
      assert.equal(answer.body.error.code, 'ADMIN_FORBIDDEN_ORIGIN');
    }
    assert.equal(backend.calls.length, 0);
    assert.equal((await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"drain"}', { ...auth, origin: admin.url }))).status, 200);
    assert.equal((await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"ready"}', auth))).status, 200);
    // Reading is not a change: a GET with a foreign Origin is answered (the browser keeps the answer from that page).
    assert.equal((await call(`${admin.url}/api/status`, { headers: { ...auth, origin: 'http://evil.example' } })).status, 200);
  }
});

test('GET /?fragment=1 returns only the body the page swaps in; the page has a CSP', async (t) => {
  const { admin } = await startTestAdmin(t);
  const page = await fetch(`${admin.url}/`);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'sha256-/);
  assert.match(await page.text(), /^<!doctype html>/);
  const fragment = await (await fetch(`${admin.url}/?fragment=1`)).text();
  assert.doesNotMatch(fragment, /<html|<script/);
  assert.match(fragment, /data-listener="kubernetes"/);
});

test('an exception in the backend is a 500 with the message, and the server keeps answering', async (t) => {
  const backend = fakeBackend();
  backend.setAdminState = () => { throw new Error('registry is locked'); };
  const { admin } = await startTestAdmin(t, { backend });
  const res = await call(`${admin.url}/api/nodes/cp-01/admin-state`, put('{"adminState":"drain"}'));
  assert.equal(res.status, 500);
  assert.match(res.body.error.message, /registry is locked/);
  assert.equal((await call(`${admin.url}/api/status`)).status, 200);
});

test('close() is idempotent and frees the port', async (t) => {
  const { admin } = await startTestAdmin(t);
  await fetch(`${admin.url}/api/status`, { headers: { connection: 'keep-alive' } });
  await Promise.all([admin.close(), admin.close()]);
  await assert.rejects(fetch(`${admin.url}/api/status`));
});

function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return rawRequest(base, 'GET', path, headers);
}

function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
