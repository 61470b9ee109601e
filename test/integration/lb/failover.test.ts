// alone: measures failover times: no other test shares the CPU (test/run.sh)
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { exchange } from '../../helpers/backends.js';
import { waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

/** Runs `total` exchanges with `concurrency` clients; calls onProgress after each; returns failures. */
async function load(port: number, total: number, concurrency: number, onProgress: (done: number) => void | Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      try {
        const reply = await exchange(port, `n${i};`);
        if (!reply.includes(`n${i};`)) failures.push(`bad reply ${reply}`);
      } catch (error) {
        failures.push(String(error));
      }
      done++;
      await onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

test('a server killed under 3,000 new connections: zero client-visible failures', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => stack.close());
  let killed = false;
  const failures = await load(stack.port, 3000, 16, async (done) => {
    if (done === 1000 && !killed) {
      killed = true;
      await stack.backends[1].kill();
    }
  });
  assert.ok(killed);
  assert.deepEqual(failures, []);
  const cp02 = stack.server('cp-02');
  assert.equal(cp02.state, 'down');
  assert.ok(stack.server('cp-01').totalConnections > 1000 && stack.server('cp-03').totalConnections > 1000);
  process.stdout.write(`# cp-02: ${cp02.connectFailures} failed connects retried on other servers, ${cp02.totalConnections} connections before the kill\n`);
});

test('a server that dies with a request in flight: the request is replayed to another server', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  // cp-01 now reads the request and dies without answering (RST), like a crash mid-request.
  for (const backend of [stack.backends[0]]) {
    await backend.kill();
    await new Promise<void>((resolve) => {
      const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
      server.listen(backend.port, backend.host, resolve);
      t.after(() => new Promise((r) => server.close(r)));
    });
  }
  for (let i = 0; i < 20; i++) {
    const reply = await exchange(stack.port, `req${i}`);
    assert.equal(reply, `cp-02:req${i}`);
  }
  assert.ok(stack.server('cp-01').redispatches + stack.server('cp-02').redispatches >= 1);
});

test('with replay off the same crash is visible to the client', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02'], { balancer: { replay: false } });
  t.after(() => stack.close());
  await stack.backends[0].kill();
  await new Promise<void>((resolve) => {
    const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    server.listen(stack.backends[0].port, stack.backends[0].host, resolve);
    t.after(() => new Promise((r) => server.close(r)));
  });
  const results = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => exchange(stack.port, `x${i}`)));
  assert.ok(results.some((r) => r.status === 'rejected'), 'expected at least one failure without replay');
});

test('a server marked down has its established connections closed (onMarkedDown: close)', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  const sockets = await openHeld(stack.port, 4);
  t.after(() => sockets.forEach((s) => s.destroy()));
  const onCp01 = sockets.filter((s) => s.name === 'cp-01');
  assert.equal(onCp01.length, 2);
  // Stop listening but keep established connections alive on the backend: only the health check fails.
  stack.backends[0].stopListening();
  await stack.waitForState('cp-01', 'down');
  await waitFor(() => onCp01.every((s) => s.closed), 3000);
  assert.ok(onCp01.every((s) => s.closed), 'connections to the down server were not closed');
  assert.ok(sockets.filter((s) => s.name === 'cp-02').every((s) => !s.closed), 'connections to the healthy server were closed');
});

test('onMarkedDown: keep leaves established connections of a down server open', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02'], { balancer: { onMarkedDown: 'keep' } });
  t.after(() => stack.close());
  const sockets = await openHeld(stack.port, 2);
  t.after(() => sockets.forEach((s) => s.destroy()));
  // Close only the listening socket of cp-01; its accepted connections stay up.
  stack.backends[0].stopListening();
  await stack.waitForState('cp-01', 'down');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(sockets.every((s) => !s.closed));
});

test('no healthy server: fail-open tries every server; reject closes at once', async (t) => {
  const open = await startStack(['cp-01', 'cp-02'], { healthCheck: { type: 'tls' }, waitUp: false });
  t.after(() => open.close());
  // The backends speak plain TCP, so a TLS check fails everywhere: every server is down.
  await open.waitForState('cp-01', 'down');
  await open.waitForState('cp-02', 'down');
  assert.match(await exchange(open.port, 'open'), /^cp-0[12]:open$/);

  const reject = await startStack(['cp-01', 'cp-02'], { healthCheck: { type: 'tls' }, balancer: { whenAllDown: 'reject' }, waitUp: false });
  t.after(() => reject.close());
  await reject.waitForState('cp-01', 'down');
  await reject.waitForState('cp-02', 'down');
  await assert.rejects(exchange(reject.port, 'closed'));
});

interface Held extends Socket { name: string }

async function openHeld(port: number, count: number): Promise<Held[]> {
  const sockets: Held[] = [];
  for (let i = 0; i < count; i++) {
    const socket = createConnection({ host: '127.0.0.1', port }) as Held;
    socket.on('error', () => undefined);
    socket.write('hello');
    const reply = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString())));
    socket.name = reply.split(':')[0];
    sockets.push(socket);
  }
  return sockets;
}

test('clients that connect and close without a byte (port scans, TCP checks of an outer LB) never count against a server', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02'], { healthCheck: { interval: '5s', fastInterval: '5s', timeout: '1s' } });
  t.after(() => stack.close());
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: stack.port }, () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const server of stack.servers()) {
    assert.equal(server.state, 'up');
    assert.equal(server.connectFailures, 0);
  }
});
