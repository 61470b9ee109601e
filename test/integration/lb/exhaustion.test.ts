// Running out of file descriptors is this host's problem, never the servers' (issue 9, item 3): a serve
// process with a low descriptor limit is filled with connections; no server is marked down (so none of
// the working connections is cut by onMarkedDown: close), the shortage is logged, and accepting resumes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { exchange, specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';

/** Opens a connection through the balancer and waits for the echo; resolves the socket or undefined. */
function openEcho(port: number, tag: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { socket.destroy(); resolve(undefined); }, 3000);
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write(tag));
    socket.once('data', () => { clearTimeout(timer); resolve(socket); });
    socket.once('close', () => { clearTimeout(timer); resolve(undefined); });
  });
}

test('descriptors run out: servers stay up, working connections stay open, the shortage is logged, accepting resumes', async (t) => {
  if (!requireOrSkip(t, await hasCommand('prlimit'), 'prlimit (util-linux) is not installed')) return;
  const backends = await startBackends(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const adminPort = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort, backends, balancer: { onMarkedDown: 'close', maxConnections: 5000 } }));
  t.after(() => spec.cleanup());
  // Soft 200, hard 320: Node raises the soft limit to the hard one at start; 320 cannot carry 5000 connections.
  const child = spawn('prlimit', ['--nofile=200:320', process.execPath, '--import', 'tsx', CLI, 'serve', '-c', spec.path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const status = async () => (await (await fetch(`http://127.0.0.1:${adminPort}/api/status`)).json()) as StatusSnapshot;
  assert.ok(await waitFor(async () => (await status().catch(() => undefined))?.listeners[0].servers.every((s) => s.state === 'up'), 20_000), output);
  assert.match(output, /"event":"descriptor-limit".*the descriptor limit \(320\) is below what balancer.maxConnections needs \(10064/);

  // Fill the table: every proxied connection holds two descriptors.
  const held: Socket[] = [];
  t.after(() => { for (const socket of held) socket.destroy(); });
  let refused = 0;
  for (let i = 0; i < 260 && refused < 20; i++) {
    const socket = await openEcho(port, `c${i}`);
    if (socket) held.push(socket); else refused++;
  }
  assert.ok(refused >= 20, `only ${refused} connection(s) refused with ${held.length} held`);
  assert.ok(held.length > 100, `only ${held.length} connections held before the limit`);
  // Stay full for several check intervals (200 ms, fall 2): checks fail with EMFILE meanwhile.
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(await waitFor(() => /"event":"local-exhaustion"/.test(output), 10_000), `no exhaustion line:\n${output.slice(-2000)}`);

  // Every held connection still works: nobody was marked down, so onMarkedDown: close cut nothing.
  let alive = 0;
  for (const socket of held.slice(0, 40)) {
    const echoed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      socket.once('data', () => { clearTimeout(timer); resolve(true); });
      socket.write('again');
    });
    if (echoed) alive++;
  }
  assert.equal(alive, 40);
  for (const socket of held) socket.destroy();
  held.length = 0;

  // Accepting resumes by itself once descriptors are free.
  assert.ok(await waitFor(async () => (await exchange(port, 'back').catch(() => '')).includes('back'), 10_000), 'no new connection after the shortage');
  const after = await status();
  for (const server of after.listeners[0].servers) {
    assert.equal(server.state, 'up', `${server.name} ${server.stateReason}`);
    assert.equal(server.downTransitions, 0, server.name);
  }
  assert.ok((after.resources?.exhausted.EMFILE ?? 0) > 0, JSON.stringify(after.resources));
  assert.equal(after.resources?.descriptorLimit, 320);
  assert.doesNotMatch(output, /"to":"down"/);
});
