import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { exchange } from '../../helpers/backends.js';
import { waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

const backendOf = (reply: string) => reply.split(':')[0];

test('roundrobin spreads new connections evenly over the healthy servers', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => stack.close());
  const counts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const name = backendOf(await exchange(stack.port, `r${i}`));
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'cp-01': 100, 'cp-02': 100, 'cp-03': 100 });

  await stack.backends[1].kill();
  await stack.waitForState('cp-02', 'down');
  counts.clear();
  for (let i = 0; i < 100; i++) {
    const name = backendOf(await exchange(stack.port, `s${i}`));
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'cp-01': 50, 'cp-03': 50 });
});

test('leastconn sends new connections to the server with the fewest active ones', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03'], { listener: { balance: 'leastconn' } });
  const held: Socket[] = [];
  t.after(async () => { for (const s of held) s.destroy(); await stack.close(); });
  // Hold two connections open; they land on two different servers.
  for (let i = 0; i < 2; i++) {
    const socket = createConnection({ host: '127.0.0.1', port: stack.port });
    socket.on('error', () => undefined);
    held.push(socket);
    socket.write('hold');
    await new Promise((resolve) => socket.once('data', resolve));
  }
  await waitFor(() => stack.servers().filter((s) => s.activeConnections === 1).length === 2);
  const idle = stack.servers().find((s) => s.activeConnections === 0)!.name;
  // Every short connection now goes to the idle server, since it always has the fewest.
  for (let i = 0; i < 20; i++) {
    assert.equal(backendOf(await exchange(stack.port, `l${i}`)), idle);
    await waitFor(() => stack.server(idle).activeConnections === 0);
  }
});

test('source keeps a client on one server (hash of the client address)', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03'], { listener: { balance: 'source' } });
  t.after(() => stack.close());
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) seen.add(backendOf(await exchange(stack.port, `c${i}`)));
  assert.equal(seen.size, 1, `one client went to ${[...seen].join(', ')}`);
  // Another client address (127.0.0.0/8 is all loopback) may map elsewhere, but also sticks.
  const other = new Set<string>();
  for (let i = 0; i < 30; i++) other.add(backendOf(await exchangeFrom('127.0.0.77', stack.port, `d${i}`)));
  assert.equal(other.size, 1);
});

function exchangeFrom(localAddress: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port, localAddress });
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (d) => { socket.end(); resolve(d.toString()); });
    socket.on('error', reject);
  });
}
