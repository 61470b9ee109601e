import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { DEFAULT_BALANCER } from '../../../src/spec/defaults.js';
import { waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });
}

function roundTrip(socket: Socket, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d) => resolve(d.toString()));
    socket.once('error', reject);
    socket.write(payload);
  });
}

test('the default idle timeout outlives kubectl logs -f, exec and watches (>= 350s, the NLB value)', () => {
  assert.ok(DEFAULT_BALANCER.idleTimeoutMs >= 350_000, `idle timeout ${DEFAULT_BALANCER.idleTimeoutMs}ms`);
  assert.ok(DEFAULT_BALANCER.idleTimeoutMs > 30_000 * 10, 'must be far above the guide\'s 30s HAProxy timeouts');
});

// Time scaled down 100×: the guide's "timeout client 30s" becomes 300 ms, our idle timeout 1.5 s.
test('a connection idle longer than the guide\'s 30s (scaled) survives; one idle past idleTimeout is closed', async (t) => {
  const stack = await startStack(['cp-01'], { balancer: { idleTimeout: '1500ms' } });
  t.after(() => stack.close());
  const socket = await open(stack.port);
  t.after(() => socket.destroy());
  assert.equal(await roundTrip(socket, 'a'), 'cp-01:a');
  await new Promise((r) => setTimeout(r, 700)); // more than 2× the scaled guide timeout
  assert.equal(await roundTrip(socket, 'b'), 'cp-01:b');
  // Traffic in one direction only (server → client, like kubectl logs -f) keeps the connection alive too.
  const backendSide = [...stack.backends[0].sockets][0];
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const got = new Promise((resolve) => socket.once('data', resolve));
    backendSide.write(`log line ${i}\n`);
    await got;
  }
  assert.equal(socket.destroyed, false);
  // Now nothing flows: the idle timeout closes it.
  const closed = await waitFor(() => socket.destroyed || socket.readableEnded, 4000);
  assert.ok(closed, 'idle connection was not closed after idleTimeout');
  await waitFor(() => stack.server('cp-01').activeConnections === 0, 2000);
  assert.equal(stack.server('cp-01').activeConnections, 0);
});

test('half-close: a client that ends its side still gets the whole answer', async (t) => {
  const stack = await startStack(['cp-01']);
  t.after(() => stack.close());
  const socket = await open(stack.port);
  let received = '';
  socket.on('data', (d) => { received += d.toString(); });
  const ended = new Promise((resolve) => socket.on('end', resolve));
  socket.end('request-then-fin');
  await ended; // the backend answers, then ends after our FIN reaches it
  assert.equal(received, 'cp-01:request-then-fin');
  await waitFor(() => stack.daemon.snapshot().listeners[0].activeConnections === 0, 2000);
  assert.equal(stack.daemon.snapshot().listeners[0].activeConnections, 0);
});

test('no leak: 500 connections leave no active connection, socket or timer behind', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const socket = await open(stack.port);
      assert.match(await roundTrip(socket, `x${i}`), new RegExp(`^cp-0[12]:x${i}$`));
      socket.end();
    }));
  }
  await waitFor(() => stack.daemon.snapshot().listeners[0].activeConnections === 0, 3000);
  const listener = stack.daemon.snapshot().listeners[0];
  assert.equal(listener.activeConnections, 0);
  assert.equal(listener.totalConnections, 500);
  assert.equal(listener.failedConnections, 0);
  const after = await waitFor(() => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length <= before + 2, 3000);
  assert.ok(after, `sockets left open: ${process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length} vs ${before}`);
});
