import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { handlesEngine } from '../../../src/lb/tcp/handles.js';
import { tcpEngine, type StreamHandler, type TcpEngine, type TcpStream } from '../../../src/lb/tcp/index.js';
import { socketsEngine } from '../../../src/lb/tcp/sockets.js';
import { freePort, waitFor } from '../../helpers/net.js';

// The contract of src/lb/tcp/stream.ts, checked on both engines over real loopback sockets.

test('the handles engine is available on this Node, and CLUSTER_ENDPOINT_TCP=sockets selects the portable one', () => {
  assert.ok(handlesEngine, `Node ${process.version} lacks the tcp_wrap/stream_wrap bindings handles.ts uses`);
  assert.equal(tcpEngine({}).name, 'handles');
  assert.equal(tcpEngine({ CLUSTER_ENDPOINT_TCP: 'sockets' }).name, 'sockets');
});

interface Recorder extends StreamHandler {
  data: Buffer[];
  events: string[];
}

function recorder(): Recorder {
  const r: Recorder = {
    data: [], events: [],
    onData: (chunk) => { r.data.push(Buffer.from(chunk)); },
    onEnd: () => { r.events.push('end'); },
    onFinish: () => { r.events.push('finish'); },
    onDrain: () => { r.events.push('drain'); },
    onError: (code) => { r.events.push(`error ${code}`); },
  };
  return r;
}

async function peer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function connected(engine: TcpEngine, host: string, port: number): Promise<TcpStream> {
  return new Promise((resolve, reject) => {
    const stream = engine.connect(host, port, (error) => (error ? reject(new Error(error)) : resolve(stream)));
  });
}

const engines: TcpEngine[] = [handlesEngine!, socketsEngine];

for (const engine of engines) {
  test(`${engine.name}: data both ways, half-close each way, remote address`, async (t) => {
    let accepted: Socket | undefined;
    const received: Buffer[] = [];
    const { server, port } = await peer((socket) => {
      accepted = socket;
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('end', () => socket.end('bye'));
    });
    t.after(() => server.close());
    const stream = await connected(engine, '127.0.0.1', port);
    const events = recorder();
    stream.start(events);
    assert.equal(stream.remoteAddress, '127.0.0.1');
    assert.equal(stream.write(Buffer.from('hello')), true);
    await waitFor(() => Buffer.concat(received).toString() === 'hello', 2000);
    accepted!.write('world');
    await waitFor(() => Buffer.concat(events.data).toString() === 'world', 2000);
    stream.end(); // our FIN: the peer answers and ends in turn
    await waitFor(() => events.events.includes('end') && events.events.includes('finish'), 2000);
    assert.equal(Buffer.concat(events.data).toString(), 'worldbye');
    assert.deepEqual(events.events.filter((e) => e.startsWith('error')), []);
    stream.destroy();
    stream.destroy(); // idempotent
  });

  test(`${engine.name}: a full peer makes write() return false, drain follows, and no byte is lost or reordered`, async (t) => {
    const total = 8 * 1024 * 1024;
    let accepted: Socket | undefined;
    const { server, port } = await peer((socket) => {
      accepted = socket;
      socket.pause();
    });
    t.after(() => server.close());
    const stream = await connected(engine, '127.0.0.1', port);
    const events = recorder();
    stream.start(events);
    await waitFor(() => accepted !== undefined, 2000);
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    let queued = false;
    while (written < total) {
      chunk.fill(written / chunk.length);
      // The engine may keep the chunk until drain: hand it a copy, as the proxy hands a read view.
      const ok = stream.write(Buffer.from(chunk));
      written += chunk.length;
      if (!ok) { queued = true; break; }
    }
    assert.ok(queued, 'a paused peer never filled the socket');
    let got = 0;
    let inOrder = true;
    accepted!.on('data', (data: Buffer) => {
      for (let i = 0; i < data.length; i += 4096) if (data[i] !== Math.floor((got + i) / chunk.length) % 256) inOrder = false;
      got += data.length;
    });
    accepted!.resume();
    await waitFor(() => events.events.includes('drain'), 5000);
    await waitFor(() => got === written, 5000);
    assert.equal(got, written);
    assert.ok(inOrder, 'bytes arrived out of order or overwritten');
    stream.destroy();
  });

  test(`${engine.name}: pause() stops reading until resume()`, async (t) => {
    let accepted: Socket | undefined;
    const { server, port } = await peer((socket) => { accepted = socket; });
    t.after(() => server.close());
    const stream = await connected(engine, '127.0.0.1', port);
    const events = recorder();
    stream.start(events);
    await waitFor(() => accepted !== undefined, 2000);
    stream.pause();
    accepted!.write('while paused');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.data.length, 0, 'read while paused');
    stream.resume();
    stream.resume(); // twice is harmless
    await waitFor(() => Buffer.concat(events.data).toString() === 'while paused', 2000);
    assert.deepEqual(events.events, []);
    stream.destroy();
  });

  test(`${engine.name}: refused connect, reset by the peer, and a server given by DNS name`, async (t) => {
    const closedPort = await freePort();
    const refused = await new Promise<string | undefined>((resolve) => { engine.connect('127.0.0.1', closedPort, resolve); });
    assert.equal(refused, 'ECONNREFUSED');

    const { server, port } = await peer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    t.after(() => server.close());
    const stream = await connected(engine, 'localhost', port);
    const events = recorder();
    stream.start(events);
    stream.write(Buffer.from('x'));
    await waitFor(() => events.events.some((e) => e.startsWith('error')), 2000);
    assert.match(events.events.find((e) => e.startsWith('error'))!, /^error (ECONNRESET|EPIPE|closed)$/);
    stream.destroy();
  });

  test(`${engine.name}: destroy() during a connect reports nothing and leaves no handle`, async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    let reported = false;
    // The peer closes what it accepts, so only handles of the engine could stay behind.
    const { server, port } = await peer((socket) => socket.destroy());
    for (let i = 0; i < 50; i++) engine.connect('127.0.0.1', port, () => { reported = true; }).destroy();
    await new Promise((r) => setTimeout(r, 200));
    server.close();
    assert.equal(reported, false);
    const settled = await waitFor(() => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length <= before, 2000);
    assert.ok(settled, 'handles left open');
  });
}
