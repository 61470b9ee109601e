import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { test } from 'node:test';
import { exchange, specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { CLI, ROOT, runCli } from '../../helpers/cli.js';
import { freePort, waitFor } from '../../helpers/net.js';

function serve(specPath: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '-c', specPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, get output() { return output; } };
}

test('serve: SIGHUP reloads, SIGTERM lets connections finish and exits 0; logs are JSON lines off a terminal', async (t) => {
  const backends = await startBackends(['cp-01', 'cp-02']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const adminPort = await freePort();
  const value = specFor({ port, adminPort, backends, deregistrationDelay: '3s' });
  const spec = await tempSpec(value);
  t.after(() => spec.cleanup());
  const proc = serve(spec.path);
  t.after(() => proc.child.kill('SIGKILL'));
  assert.ok(await waitFor(() => proc.output.includes('"to":"up"') && proc.output.split('"to":"up"').length > 2, 15_000), proc.output);
  assert.match(await exchange(port, 'one'), /^cp-0[12]:one$/);
  // Every log line is JSON; a state change names server, listener and reason.
  for (const line of proc.output.trim().split('\n')) JSON.parse(line);
  assert.match(proc.output, /"msg":"cp-0[12] kubernetes up: connect ok/);

  (value.controlPlane as unknown[]).pop();
  await spec.write(value);
  proc.child.kill('SIGHUP');
  assert.ok(await waitFor(() => proc.output.includes('"event":"reload"'), 10_000), proc.output);

  // A long-lived connection is open when SIGTERM arrives: it may finish, new ones are refused.
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.write('long');
  await new Promise((resolve) => socket.once('data', resolve));
  proc.child.kill('SIGTERM');
  assert.ok(await waitFor(() => proc.output.includes('"event":"stopping"'), 10_000));
  await assert.rejects(exchange(port, 'late', { timeoutMs: 2000 }));
  const reply = new Promise((resolve) => socket.once('data', (d) => resolve(d.toString())));
  socket.write('still-here');
  assert.match(String(await reply), /still-here/);
  socket.end();
  assert.equal(await proc.exited, 0);
  assert.doesNotMatch(proc.output, /closed \d+ connection\(s\) at the deadline/);
});

test('serve: a busy port or an invalid spec is one clear line and a non-zero exit, no stack trace', async (t) => {
  const busy = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const spec = await tempSpec(specFor({ port, adminPort: await freePort(), backends: [{ name: 'cp-01', port: 1 }] }));
  t.after(() => spec.cleanup());
  const result = await runCli(['serve', '-c', spec.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /cannot bind 127\.0\.0\.1:\d+: EADDRINUSE/);
  assert.match(result.stderr, /fix: another process uses this port/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);

  await spec.write('cluster: {name: test}\nendpoint: 127.0.0.1\ncontrolPlane: []\n');
  const invalid = await runCli(['serve', '-c', spec.path]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /controlPlane: needs at least 1 item/);
  const missing = await runCli(['serve', '-c', '/nonexistent/endpoint.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read \/nonexistent\/endpoint.yaml: no such file/);
});
