import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src/errors.js';
import { fetchStatus, parseAdminUrl, putAdminState, resolveAdminTarget } from '../../../src/runtime/admin/client.js';
import { startTestAdmin } from './fixture.js';

const userError = (code: string, message: RegExp) => (error: unknown) => error instanceof UserError && error.code === code && message.test(error.message);

test('parseAdminUrl accepts URLs and host:port, refuses https and missing ports', () => {
  assert.equal(parseAdminUrl('http://127.0.0.1:8404/'), 'http://127.0.0.1:8404');
  assert.equal(parseAdminUrl('127.0.0.1:8404'), 'http://127.0.0.1:8404');
  assert.equal(parseAdminUrl('[::1]:8404'), 'http://[::1]:8404');
  assert.equal(parseAdminUrl('http://lb.example.test:9000/admin/'), 'http://lb.example.test:9000/admin');
  assert.throws(() => parseAdminUrl('https://127.0.0.1:8404'), userError('USAGE', /must use http:\/\//));
  assert.throws(() => parseAdminUrl('http://127.0.0.1'), userError('USAGE', /has no port/));
  assert.throws(() => parseAdminUrl('http://[bad'), userError('USAGE', /is not an address/));
});

test('resolveAdminTarget: the spec gives the address (wildcards become loopback) and the token', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'endpoint.yaml');
  await writeFile(file, `cluster: { name: test, environment: dev }
endpoint: 127.0.0.10
controlPlane: [{ name: cp-01, address: 127.0.0.11 }]
listeners: [{ name: kubernetes, port: 16443, targetPort: 6443, targets: controlPlane }]
balancer: { admin: "0.0.0.0:18404", adminToken: spec-token-0123456789 }
`);
  const env = {};
  assert.deepEqual(await resolveAdminTarget({ config: file }, env), { url: 'http://127.0.0.1:18404', token: 'spec-token-0123456789' });
  assert.deepEqual(await resolveAdminTarget({ config: file, token: 'flag-token' }, env), { url: 'http://127.0.0.1:18404', token: 'flag-token' });
  assert.deepEqual(await resolveAdminTarget({ admin: 'http://127.0.0.2:9' }, { CLUSTER_ENDPOINT_ADMIN_TOKEN: 'env-token' }), { url: 'http://127.0.0.2:9', token: 'env-token' });
  assert.deepEqual(await resolveAdminTarget({ admin: '127.0.0.2:9', config: file }, env), { url: 'http://127.0.0.2:9', token: 'spec-token-0123456789' });
  await assert.rejects(resolveAdminTarget({ config: join(dir, 'missing.yaml') }, env), /missing\.yaml is not a valid spec/);
});

test('the client turns HTTP answers into UserErrors with the API message', async (t) => {
  const { admin } = await startTestAdmin(t, { token: 'the-right-token-123' });
  await assert.rejects(fetchStatus({ url: admin.url }), userError('ADMIN_UNAUTHORIZED', /needs the admin token/));
  await assert.rejects(fetchStatus({ url: admin.url, token: 'the-wrong-token-12' }), userError('ADMIN_UNAUTHORIZED', /refused the token/));
  await assert.rejects(putAdminState({ url: admin.url, token: 'the-right-token-123' }, 'cp-09', 'drain'), userError('ADMIN_NOT_FOUND', /no server named cp-09/));
  const result = await putAdminState({ url: admin.url, token: 'the-right-token-123' }, 'cp-02', 'drain', 'talos');
  assert.deepEqual([result.matched, result.changed, result.servers[0].adminState], [1, 1, 'drain']);
});

test('something else on the port is not mistaken for the balancer', async (t) => {
  const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hello</h1>'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => other.close(() => resolve())));
  const url = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  await assert.rejects(fetchStatus({ url }), userError('ADMIN_UNREACHABLE', /answered, but not as a cluster-endpoint admin API \(HTTP 200, text\/html\)/));
});

test('a balancer that does not answer in time is reported, not waited on forever', async (t) => {
  const silent = createServer(() => { /* never answers */ });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => { silent.closeAllConnections(); return new Promise<void>((resolve) => silent.close(() => resolve())); });
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const started = Date.now();
  await assert.rejects(fetchStatus({ url }), userError('ADMIN_UNREACHABLE', /did not answer within 5s/));
  assert.ok(Date.now() - started < 8000);
});

test('resolveAdminTarget: an invalid spec on disk still gives its admin address, with a warning (drain, undrain and status keep working)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'endpoint.yaml');
  // Mid-edit: a typo in a node and a listener port out of range, but balancer.admin is fine.
  await writeFile(file, `cluster: { name: test }
endpoint: 127.0.0.10
controlPlane: [{ name: cp-01, adress: 127.0.0.11 }]
listeners: [{ name: kubernetes, port: 70000, targetPort: 6443, targets: controlPlane }]
balancer: { admin: "127.0.0.1:18405", adminToken: spec-token-0123456789 }
`);
  const warnings: string[] = [];
  assert.deepEqual(await resolveAdminTarget({ config: file }, {}, (line) => warnings.push(line)), { url: 'http://127.0.0.1:18405', token: 'spec-token-0123456789' });
  assert.match(warnings.join('\n'), /is not a valid spec \(\d+ problem\(s\); run `cluster-endpoint validate -c .*`\); using its balancer.admin 127.0.0.1:18405/);
  // Without balancer.admin the default address is used.
  await writeFile(file, 'cluster: { name: test }\ncontrolPlane: []\n');
  assert.equal((await resolveAdminTarget({ config: file }, {}, () => undefined)).url, 'http://127.0.0.1:8404');
  // When balancer.admin itself is what is broken, there is nothing to reach: the spec's problems.
  await writeFile(file, 'cluster: { name: test }\nendpoint: 127.0.0.10\ncontrolPlane: [{ name: cp-01, address: 127.0.0.11 }]\nbalancer: { admin: "nowhere" }\n');
  await assert.rejects(resolveAdminTarget({ config: file }, {}, () => undefined), /is not a valid spec/);
  // A YAML syntax error elsewhere in the file (issue 24, item 6): what the library could read still gives balancer.admin.
  for (const [text, port] of [
    ['cluster: [\nbalancer: { admin: "127.0.0.1:18406", adminToken: spec-token-0123456789 }\n', 18406],
    ['balancer:\n  admin: 127.0.0.1:18407\ncontrolPlane: [\n', 18407],
    ['cluster:\n  name: x\n   bad: indent\nbalancer:\n  admin: 127.0.0.1:18408\n', 18408],
  ] as const) {
    await writeFile(file, text);
    warnings.length = 0;
    assert.equal((await resolveAdminTarget({ config: file }, {}, (line) => warnings.push(line))).url, `http://127.0.0.1:${port}`, text);
    assert.match(warnings.join('\n'), /is not a valid spec/);
  }
  // Not YAML at all, and no admin: key anywhere: the default address, with the warning.
  await writeFile(file, 'cluster: [\n');
  assert.equal((await resolveAdminTarget({ config: file }, {}, () => undefined)).url, 'http://127.0.0.1:8404');
  // admin: is in the part the library could not read: nothing to guess, the spec's problems.
  await writeFile(file, 'controlPlane:\n  - name: a\n    address: "unterminated\nbalancer:\n  admin: 127.0.0.1:18409\n');
  await assert.rejects(resolveAdminTarget({ config: file }, {}, () => undefined), /is not a valid spec/);
});

test('resolveAdminTarget: --admin never needs the spec, even one that is not YAML or cannot be read (issue 24, item 6)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'endpoint.yaml');
  await writeFile(file, 'cluster: [\n  "unterminated\nbalancer: { admin: 127.0.0.1:1, adminToken: x\n');
  const warnings: string[] = [];
  assert.deepEqual(await resolveAdminTarget({ admin: '127.0.0.1:9', config: file }, { CLUSTER_ENDPOINT_ADMIN_TOKEN: 'env-token' }, (l) => warnings.push(l)), { url: 'http://127.0.0.1:9', token: 'env-token' });
  assert.match(warnings.join('\n'), /cannot be read for balancer.adminToken .*using CLUSTER_ENDPOINT_ADMIN_TOKEN/);
  for (const config of [join(dir, 'missing.yaml'), dir, '/dev/zero']) {
    assert.equal((await resolveAdminTarget({ admin: '127.0.0.1:9', config }, {}, () => undefined)).url, 'http://127.0.0.1:9', config);
  }
});

test('resolveAdminTarget without -c: ./endpoint.yaml, then the packaged spec, then the default admin address (issue 23, item 7)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const here = join(dir, 'endpoint.yaml');
  const packaged = join(dir, 'etc-endpoint.yaml');
  const spec = (port: number) => `cluster: { name: test }\nendpoint: 127.0.0.10\ncontrolPlane: [{ name: cp-01, address: 127.0.0.11 }]\nbalancer: { admin: "127.0.0.1:${port}" }\n`;
  const resolve = () => resolveAdminTarget({}, {}, () => undefined, [here, packaged]);
  assert.equal((await resolve()).url, 'http://127.0.0.1:8404', 'neither: the default address');
  await writeFile(packaged, spec(18411));
  assert.equal((await resolve()).url, 'http://127.0.0.1:18411', 'the packaged spec');
  await writeFile(here, spec(18412));
  assert.equal((await resolve()).url, 'http://127.0.0.1:18412', 'the one in the working directory first');
});
