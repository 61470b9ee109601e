// systemd credentials: under the unit `render builtin` writes, serve runs as an unprivileged dynamic user and a health
// check's client key stays readable by root only; systemd hands serve a copy in $CREDENTIALS_DIRECTORY
// (LoadCredential=). No systemd runs as PID 1 on the test machines, so this does what systemd does for the unit — a
// private copy of each credential file owned by the service's user, CREDENTIALS_DIRECTORY set, serve started as that
// user — and checks that serve reads the key from there, and that without it the key on disk is out of its reach.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { credentialFiles } from '../../../src/render/builtin/index.js';
import { parseSpec } from '../../../src/spec/load.js';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { closeServer, listen, makePki } from './fixtures.js';

/** The unprivileged user serve runs as (nobody), as DynamicUser= gives it a user of its own. */
const SERVICE_UID = 65534;

test('serve reads a health check\'s client certificate and key from $CREDENTIALS_DIRECTORY when it cannot read the files', async (t) => {
  if (!requireOrSkip(t, process.getuid?.() === 0, 'needs root (serve is started as another user)')) return;
  // The PKI lives in a directory of mode 0700 owned by root: the key on disk is root's alone.
  const pki = await makePki();
  t.after(() => pki.remove());
  // A node that answers /readyz only to a client presenting a certificate its CA signed.
  const node = createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }, (_request, response) => response.end('ok'));
  const nodePort = await listen(node);
  t.after(() => closeServer(node));

  // The spec and the credentials directory, readable by the service user (the spec must be, with DynamicUser=).
  const work = await mkdtemp(join(tmpdir(), 'ce-credentials-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  await chmod(work, 0o755);
  const port = await freePort();
  const adminPort = await freePort();
  const spec = {
    cluster: { name: 'credentials' }, endpoint: '127.0.0.1',
    controlPlane: [{ name: 'cp-01', address: '127.0.0.1' }],
    listeners: [{ name: 'kubernetes', port, targetPort: nodePort, targets: 'controlPlane' }],
    healthCheck: { type: 'https', path: '/readyz', interval: '500ms', timeout: '400ms', healthyThreshold: 1, unhealthyThreshold: 1, clientCertificate: pki.clientCertificate },
    deregistrationDelay: '0s',
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${adminPort}`, watch: false },
  };
  const specPath = join(work, 'endpoint.yaml');
  await writeFile(specPath, stringify(spec), { mode: 0o644 });

  // What systemd does for the unit's LoadCredential= lines: which files, under which names.
  const parsed = parseSpec(stringify(spec), specPath);
  assert.ok(parsed.spec, JSON.stringify(parsed.problems));
  const files = credentialFiles(parsed.spec);
  assert.deepEqual(files, [pki.clientCertificate.certFile, pki.clientCertificate.keyFile]);
  const credentials = join(work, 'credentials');
  await mkdir(credentials);
  for (const file of files) {
    const copy = join(credentials, basename(file));
    await copyFile(file, copy);
    await chown(copy, SERVICE_UID, SERVICE_UID);
    await chmod(copy, 0o400);
  }
  await chown(credentials, SERVICE_UID, SERVICE_UID);
  await chmod(credentials, 0o500);

  const serve = (env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '-c', specPath], {
      cwd: ROOT, uid: SERVICE_UID, gid: SERVICE_UID, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: work, ...env },
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    return { child, exited, get output() { return output; } };
  };

  // Without the credentials the service user cannot read the files: the check fails and says why.
  const without = serve({});
  assert.ok(await waitFor(() => without.output.includes('"to":"down"'), 20_000), without.output);
  assert.match(without.output, /certFile EACCES/);
  without.child.kill('SIGTERM');
  assert.equal(await without.exited, 0, without.output);

  // With them serve reads the copies: the node sees the client certificate and the server goes up.
  const withCredentials = serve({ CREDENTIALS_DIRECTORY: credentials });
  assert.ok(await waitFor(() => withCredentials.output.includes('"to":"up"'), 20_000), withCredentials.output);
  assert.doesNotMatch(withCredentials.output, /EACCES/);
  withCredentials.child.kill('SIGTERM');
  assert.equal(await withCredentials.exited, 0, withCredentials.output);
});
