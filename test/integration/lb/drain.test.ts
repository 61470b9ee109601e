import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { exchange } from '../../helpers/backends.js';
import { runCli } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

async function hold(port: number, count: number): Promise<Array<Socket & { node: string }>> {
  const sockets: Array<Socket & { node: string }> = [];
  for (let i = 0; i < count; i++) {
    const socket = createConnection({ host: '127.0.0.1', port }) as Socket & { node: string };
    socket.on('error', () => undefined);
    socket.write('hi');
    socket.node = (await new Promise<Buffer>((resolve) => socket.once('data', resolve))).toString().split(':')[0];
    sockets.push(socket);
  }
  return sockets;
}

test('drain: new connections avoid the drained server at once; established ones close at the deregistration delay', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03'], { deregistrationDelay: '1500ms' });
  t.after(() => stack.close());
  const held = await hold(stack.port, 6);
  t.after(() => held.forEach((s) => s.destroy()));
  const onCp02 = held.filter((s) => s.node === 'cp-02');
  assert.equal(onCp02.length, 2);

  const drainedAt = Date.now();
  const response = await fetch(`${stack.daemon.adminUrl}/api/nodes/cp-02/admin-state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ adminState: 'drain' }) });
  assert.equal(response.status, 200);
  assert.equal(stack.server('cp-02').adminState, 'drain');
  for (let i = 0; i < 60; i++) assert.notEqual((await exchange(stack.port, `n${i}`)).split(':')[0], 'cp-02');

  // Still open before the delay …
  await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - drainedAt))));
  assert.ok(onCp02.every((s) => !s.destroyed && !s.readableEnded), 'drained connections closed before the delay');
  // … closed once it runs out; connections to other servers stay.
  assert.ok(await waitFor(() => onCp02.every((s) => s.destroyed || s.readableEnded), 3000), 'drained connections not closed at the delay');
  const elapsed = Date.now() - drainedAt;
  assert.ok(elapsed >= 1400, `closed after ${elapsed}ms, before the 1.5s delay`);
  assert.ok(held.filter((s) => s.node !== 'cp-02').every((s) => !s.destroyed));

  // undrain (through the real CLI) returns it to the rotation.
  const undrain = await runCli(['undrain', 'cp-02', '--admin', stack.daemon.adminUrl]);
  assert.equal(undrain.code, 0, undrain.stderr);
  const seen = new Set<string>();
  for (let i = 0; i < 9; i++) seen.add((await exchange(stack.port, `u${i}`)).split(':')[0]);
  assert.ok(seen.has('cp-02'));
});

test('drain NODE via the CLI drains that node on every listener', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  const result = await runCli(['drain', 'cp-01', '--admin', stack.daemon.adminUrl]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(stack.server('cp-01').adminState, 'drain');
  for (let i = 0; i < 10; i++) assert.equal((await exchange(stack.port, `d${i}`)).split(':')[0], 'cp-02');
  const missing = await runCli(['drain', 'cp-09', '--admin', stack.daemon.adminUrl]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cp-09/);
  assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/);
});
