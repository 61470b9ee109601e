// alone: a slow client and server at a fixed pace, which a busy CPU stalls: no other test shares the CPU (test/run.sh)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { startDaemon } from '../../../src/runtime/daemon.js';
import { specFor, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';

// Reads land in reused buffers (src/lb/tcp/handles.ts): these transfers prove that no byte is lost or
// overwritten while writes queue up behind a slow reader, in both directions, on both TCP engines.
const SIZE = 24 * 1024 * 1024;
const payload = randomBytes(SIZE);
const digest = createHash('sha256').update(payload).digest('hex');

const ENGINES = ['handles', 'sockets'] as const;

async function withBalancer(engine: (typeof ENGINES)[number], onConnection: (socket: Socket) => void, run: (port: number) => Promise<void>): Promise<void> {
  const backend = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort: await freePort(), backends: [{ name: 'cp-01', port: (backend.address() as { port: number }).port }] }));
  const previous = process.env.CLUSTER_ENDPOINT_TCP;
  process.env.CLUSTER_ENDPOINT_TCP = engine;
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger }).finally(() => {
    if (previous === undefined) delete process.env.CLUSTER_ENDPOINT_TCP;
    else process.env.CLUSTER_ENDPOINT_TCP = previous;
  });
  try {
    await waitFor(() => daemon.snapshot().listeners[0].servers[0].state === 'up', 5000);
    await run(port);
  } finally {
    await daemon.destroy();
    backend.close();
    await spec.cleanup();
  }
}

for (const engine of ENGINES) {
  test(`${engine}: client → server: 24 MiB through a slow server arrive intact`, async () => {
    await withBalancer(engine, (socket) => {
      const hash = createHash('sha256');
      socket.pause(); // let the balancer's writes queue up first
      setTimeout(() => socket.resume(), 400);
      socket.on('data', (chunk) => hash.update(chunk));
      socket.on('end', () => socket.end(hash.digest('hex')));
    }, async (port) => {
      const client = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
      let answer = '';
      client.on('data', (d) => { answer += d; });
      const ended = new Promise((resolve) => client.on('end', resolve));
      for (let offset = 0; offset < SIZE; offset += 1 << 20) {
        if (!client.write(payload.subarray(offset, offset + (1 << 20)))) await new Promise((r) => client.once('drain', r));
      }
      client.end();
      await ended;
      assert.equal(answer, digest);
    });
  });

  test(`${engine}: server → client: 24 MiB to a slow client arrive intact`, async () => {
    await withBalancer(engine, (socket) => {
      socket.once('data', () => socket.end(payload));
      socket.on('error', () => undefined);
    }, async (port) => {
      const client = createConnection({ host: '127.0.0.1', port });
      const hash = createHash('sha256');
      let bytes = 0;
      client.write('go');
      client.pause();
      await new Promise((r) => setTimeout(r, 400));
      client.on('data', (chunk) => { hash.update(chunk); bytes += chunk.length; });
      client.resume();
      await new Promise((resolve) => client.on('end', resolve));
      assert.equal(bytes, SIZE);
      assert.equal(hash.digest('hex'), digest);
    });
  });
}
