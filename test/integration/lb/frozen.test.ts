// alone: measures failover times: no other test shares the CPU (test/run.sh)
// A frozen server (SIGSTOP: its kernel still completes handshakes and takes the bytes, nothing answers) is
// found by the traffic itself (issue 9, item 8): a connection it does not answer within
// balancer.firstByteTimeout is replayed elsewhere and the server is ejected. A server that speaks first, a
// TLS handshake, and the last server a connection can go to are never cut.
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { silentLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/runtime/daemon.js';
import type { ServerSnapshot } from '../../../src/runtime/snapshot.js';
import { createCa, issueCertificate } from '../../../src/tls/certs.js';
import { exchange, specFor, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { startNodeProcesses, type NodeProcess } from '../../helpers/node-process.js';

async function serve(t: { after(fn: () => unknown): void }, backends: Array<{ name: string; host: string; port: number }>, balancer: Record<string, unknown>): Promise<{ daemon: Daemon; port: number; server(name: string): ServerSnapshot }> {
  const port = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort: await freePort(), backends, balancer }));
  t.after(() => spec.cleanup());
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger });
  t.after(() => daemon.destroy());
  const server = (name: string) => daemon.snapshot().listeners[0].servers.find((s) => s.name === name)!;
  assert.ok(await waitFor(() => backends.every((b) => server(b.name).state === 'up'), 10_000), 'servers up');
  return { daemon, port, server };
}

function nodes(list: NodeProcess[]) {
  return list.map((n) => ({ name: n.options.name, host: n.options.host, port: n.options.port }));
}

test('a frozen server: its connections are replayed elsewhere, it is ejected, and new connections avoid it', async (t) => {
  const list = await startNodeProcesses(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => Promise.all(list.map((n) => n.kill())));
  const { server, port } = await serve(t, nodes(list), { firstByteTimeout: '500ms' });
  list[0].freeze();
  const replies: string[] = [];
  const failures: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 6 }, async () => {
    while (next < 30) {
      const i = next++;
      try { replies.push(await exchange(port, `f${i};`, { timeoutMs: 8000 })); } catch (error) { failures.push(String(error)); }
    }
  }));
  assert.deepEqual(failures, [], 'no client sees the frozen server');
  assert.equal(replies.length, 30);
  assert.ok(replies.every((r) => /^cp-0[23]:f\d+;$/.test(r)), replies.join(' '));
  const frozen = server('cp-01');
  assert.ok((frozen.firstByteTimeouts ?? 0) >= 1, JSON.stringify(frozen));
  assert.ok((frozen.ejectedUntil ?? 0) > Date.now() + 20_000, `ejected for ~30 s: ${JSON.stringify(frozen)}`);
  assert.ok(frozen.redispatches >= 1);
  assert.equal(server('cp-02').firstByteTimeouts, 0);
  assert.equal(server('cp-03').firstByteTimeouts, 0);

  // Ejected: new connections do not even try it.
  const before = server('cp-01').totalConnections;
  for (let i = 0; i < 20; i++) assert.match(await exchange(port, `g${i};`), /^cp-0[23]:/);
  assert.equal(server('cp-01').totalConnections, before);
  list[0].thaw();
});

test('a server that speaks first is never cut for the client\'s silence', async (t) => {
  const list = await startNodeProcesses(['cp-01', 'cp-02'], { greetMs: 1500 });
  t.after(() => Promise.all(list.map((n) => n.kill())));
  const { server, port } = await serve(t, nodes(list), { firstByteTimeout: '200ms' });
  const greetings = await Promise.all([0, 1, 2, 3].map(() => new Promise<string>((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error('no greeting')); });
    socket.once('data', (d) => { resolve(d.toString()); socket.end(); });
    socket.once('error', reject);
  })));
  for (const greeting of greetings) assert.match(greeting, /^cp-0[12] hello\n/);
  assert.equal((server('cp-01').firstByteTimeouts ?? 0) + (server('cp-02').firstByteTimeouts ?? 0), 0);
});

test('the last server a connection can go to may take its time', async (t) => {
  const list = await startNodeProcesses(['cp-01']);
  t.after(() => Promise.all(list.map((n) => n.kill())));
  const { server, port } = await serve(t, nodes(list), { firstByteTimeout: '200ms' });
  list[0].freeze();
  const reply = exchange(port, 'patience', { timeoutMs: 8000 });
  await new Promise((r) => setTimeout(r, 1500));
  list[0].thaw();
  assert.equal(await reply, 'cp-01:patience');
  assert.equal(server('cp-01').firstByteTimeouts, 0);
  assert.equal(server('cp-01').ejectedUntil, undefined);
});

test('TLS clients: the handshake answer comes in milliseconds and nothing is cut', async (t) => {
  const ca = await createCa('frozen-test CA');
  const pair = await issueCertificate(ca, { commonName: 'cp', sans: ['127.0.0.1'] });
  let shared = 0;
  for (const [index, host] of ['127.9.255.1', '127.9.255.2'].entries()) {
    const tls = createTlsServer({ cert: pair.cert, key: pair.key }, (socket) => socket.end(`cp-0${index + 1}\n`));
    await new Promise<void>((resolve) => tls.listen(shared, host, resolve));
    shared = (tls.address() as { port: number }).port;
    t.after(() => new Promise((r) => tls.close(r)));
  }
  const { server, port } = await serve(t, [{ name: 'cp-01', host: '127.9.255.1', port: shared }, { name: 'cp-02', host: '127.9.255.2', port: shared }], { firstByteTimeout: '100ms' });
  for (let i = 0; i < 20; i++) {
    const line = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, checkServerIdentity: () => undefined });
      let text = '';
      socket.on('data', (d) => { text += d; });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(line, /^cp-0[12]\n$/);
  }
  assert.equal((server('cp-01').firstByteTimeouts ?? 0) + (server('cp-02').firstByteTimeouts ?? 0), 0);
});

test('a connection still waiting for its first byte when its server is drained past its delay moves to another server', async (t) => {
  const list = await startNodeProcesses(['cp-01', 'cp-02']);
  t.after(() => Promise.all(list.map((n) => n.kill())));
  const port = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort: await freePort(), backends: nodes(list), deregistrationDelay: '0s', balancer: { firstByteTimeout: '0s' } }));
  t.after(() => spec.cleanup());
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger });
  t.after(() => daemon.destroy());
  assert.ok(await waitFor(() => daemon.snapshot().listeners[0].servers.every((s) => s.state === 'up'), 10_000));
  daemon.setAdminState({ server: 'cp-02' }, 'maint');
  list[0].freeze();
  const reply = exchange(port, 'moved', { timeoutMs: 8000 });
  assert.ok(await waitFor(() => daemon.snapshot().listeners[0].servers[0].activeConnections === 1, 3000), 'the connection waits on frozen cp-01');
  daemon.setAdminState({ server: 'cp-02' }, 'ready');
  daemon.setAdminState({ server: 'cp-01' }, 'drain'); // deregistration delay 0: its connections are closed now
  assert.equal(await reply, 'cp-02:moved');
  list[0].thaw();
});
