// drain, undrain and status run as real CLI processes against an admin server on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';
import { startTestAdmin } from '../../unit/admin/fixture.js';

const NO_STACK = /^\s+at /m;

test('drain and undrain a node on every listener', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const drain = await runCli(['drain', 'cp-01', '--admin', admin.url]);
  assert.equal(drain.code, 0, drain.stderr);
  assert.match(drain.stdout, /^cp-01: drain on 2 server\(s\): kubernetes \(up, 3 open\), talos \(up, 0 open\)$/m);
  assert.match(drain.stdout, /new connections go to the other servers; 3 open connection\(s\) get the deregistration delay to finish, then are closed\. Undo with: cluster-endpoint undrain cp-01/);
  // cp-01 was the only server up and ready on both listeners (kubernetes: cp-02 down, cp-03 drain;
  // talos: cp-02 checking, cp-03 maint).
  assert.match(drain.stderr, /^warning: listener kubernetes has no server that is up and ready now$/m);
  assert.match(drain.stderr, /^warning: listener talos has no server that is up and ready now$/m);
  assert.deepEqual(backend.current.listeners.map((l) => l.servers[0].adminState), ['drain', 'drain']);

  const again = await runCli(['drain', 'cp-01', '--admin', admin.url.replace('http://', '')]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^cp-01: already drain on 2 server\(s\)/m);

  const undrain = await runCli(['undrain', 'cp-01', '--admin', `${admin.url}/`]);
  assert.equal(undrain.code, 0, undrain.stderr);
  assert.match(undrain.stdout, /^cp-01: ready on 2 server\(s\): /m);
  assert.deepEqual(backend.current.listeners.map((l) => l.servers[0].adminState), ['ready', 'ready']);
});

test('drain --maint, --listener and --json', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const maint = await runCli(['drain', 'cp-02', '--maint', '--listener', 'talos', '--json', '--admin', admin.url]);
  assert.equal(maint.code, 0, maint.stderr);
  const result = JSON.parse(maint.stdout);
  assert.deepEqual(result, { adminState: 'maint', matched: 1, changed: 1, servers: [{ listener: 'talos', server: 'cp-02', state: 'checking', adminState: 'maint', activeConnections: 0 }] });
  assert.deepEqual(backend.calls, [{ target: { server: 'cp-02', listener: 'talos' }, state: 'maint' }]);
  assert.equal(backend.current.listeners[0].servers[1].adminState, 'ready');
});

test('mistakes get one line and a fix, no stack trace', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const unknown = await runCli(['drain', 'cp-09', '--admin', admin.url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: no server named cp-09$/m);
  assert.match(unknown.stderr, /fix: known nodes: cp-01, cp-02, cp-03/);
  assert.doesNotMatch(unknown.stderr, NO_STACK);

  const noNode = await runCli(['drain', '--admin', admin.url]);
  assert.equal(noNode.code, 2);
  assert.match(noNode.stderr, /error: drain needs the node name/);
  assert.equal(backend.calls.length, 1, 'only the unknown node reached the API');
});

test('no balancer on the address: ADMIN_UNREACHABLE, exit 1, no stack', async () => {
  const port = await freePort();
  for (const args of [['drain', 'cp-01'], ['status']]) {
    const result = await runCli([...args, '--admin', `http://127.0.0.1:${port}`]);
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, new RegExp(`^error: no balancer answers on http://127\\.0\\.0\\.1:${port}; is \`cluster-endpoint serve\` running\\?$`, 'm'));
    assert.match(result.stderr, /fix: ECONNREFUSED; start it with `cluster-endpoint serve -c endpoint\.yaml`/);
    assert.doesNotMatch(result.stderr, NO_STACK);
    assert.equal(result.stdout, '');
  }
});

test('the admin address and token come from the spec or the environment', async (t) => {
  const token = 'a-token-of-sixteen-chars';
  const { admin, backend } = await startTestAdmin(t, { token });
  const port = Number(new URL(admin.url).port);
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spec = (withToken: boolean) => `cluster: { name: test, environment: dev }
endpoint: 127.0.0.10
controlPlane:
  - { name: cp-01, address: 127.0.0.11 }
listeners:
  - { name: kubernetes, port: 16443, targetPort: 6443, targets: controlPlane }
balancer:
  admin: 127.0.0.1:${port}
${withToken ? `  adminToken: ${token}\n` : ''}`;
  const withToken = join(dir, 'with-token.yaml');
  const withoutToken = join(dir, 'without-token.yaml');
  await writeFile(withToken, spec(true));
  await writeFile(withoutToken, spec(false));
  const env = { CLUSTER_ENDPOINT_ADMIN_TOKEN: '' };

  const missing = await runCli(['drain', 'cp-01', '-c', withoutToken], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`error: the balancer on http://127\\.0\\.0\\.1:${port} needs the admin token`));
  assert.match(missing.stderr, /fix: pass --token TOKEN, or set CLUSTER_ENDPOINT_ADMIN_TOKEN/);
  assert.equal(backend.calls.length, 0);

  const fromSpec = await runCli(['drain', 'cp-01', '-c', withToken], { env });
  assert.equal(fromSpec.code, 0, fromSpec.stderr);
  const fromEnv = await runCli(['undrain', 'cp-01', '-c', withoutToken], { env: { CLUSTER_ENDPOINT_ADMIN_TOKEN: token } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  // --token (and its precedence) is covered in-process in test/unit/admin/client.test.ts.
  assert.deepEqual(backend.calls.map((c) => [c.target.server, c.state]), [['cp-01', 'drain'], ['cp-01', 'ready']]);
});

test('status prints a table, or the snapshot with --json', async (t) => {
  const { admin } = await startTestAdmin(t);
  const text = await runCli(['status', '--admin', admin.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^cluster rciis · endpoint 127\.0\.0\.10/);
  assert.match(text.stdout, /^LISTENER\s+SERVER\s+ADDRESS\s+STATE/m);
  assert.match(text.stdout, /^kubernetes\s+cp-02\s+127\.0\.0\.12:6443\s+down\s+/m);
  assert.match(text.stdout, /^talos\s+cp-03\s+127\.0\.0\.13:50000\s+up\s+\S+\s+maint\s+/m);
  const json = await runCli(['status', '--json', '--admin', admin.url]);
  assert.equal(json.code, 0, json.stderr);
  const snapshot = JSON.parse(json.stdout);
  assert.deepEqual(snapshot.listeners[0].servers.map((s: { name: string; state: string }) => `${s.name}:${s.state}`), ['cp-01:up', 'cp-02:down', 'cp-03:up']);
});

test('drain, undrain and status with --admin work while the spec on disk is broken mid-edit (issue 24, item 6)', async (t) => {
  const { admin, backend } = await startTestAdmin(t);
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const broken = join(dir, 'endpoint.yaml');
  await writeFile(broken, 'cluster: { name: test\ncontrolPlane:\n  - name: cp-01\n     address: "10.0.0.1\n');
  for (const args of [['drain', 'cp-01'], ['undrain', 'cp-01'], ['status']]) {
    const result = await runCli([...args, '-c', broken, '--admin', admin.url]);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, NO_STACK);
  }
  assert.deepEqual(backend.calls.map((c) => c.state), ['drain', 'ready']);
});

test('status without -c and without ./endpoint.yaml looks for the packaged spec, then the default admin address (issue 23, item 7)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-admin-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const result = await runCli(['status'], { cwd: dir });
  assert.doesNotMatch(result.stderr, /no endpoint\.yaml here/);
  assert.doesNotMatch(result.stderr, NO_STACK);
  // Whatever runs on this machine: the balancer of /etc/cluster-endpoint/endpoint.yaml or on 127.0.0.1:8404 answers, or nothing does.
  if (result.code !== 0) assert.match(result.stderr, /^error: no balancer answers on http:\/\/\S+; is `cluster-endpoint serve` running\?$/m);
});
