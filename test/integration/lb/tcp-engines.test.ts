import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { handlesEngine } from '../../../src/lb/tcp/handles.js';
import { tcpEngine, type StreamHandler, type TcpEngine, type TcpStream } from '../../../src/lb/tcp/index.js';
import { socketsEngine } from '../../../src/lb/tcp/sockets.js';
import { blackHole, freePort, waitFor } from '../../helpers/net.js';

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

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

for (const engine of engines) {
  test(`${engine.name}: probe() reports an accepted connect after closing it, a refused one with its code, and resolves names`, async (t) => {
    const ends: string[] = [];
    const { server, port } = await peer((socket) => { socket.on('end', () => { ends.push('end'); socket.end(); }); socket.on('error', () => undefined); socket.resume(); });
    t.after(() => server.close());
    const result = (host: string, p: number) => new Promise<string | undefined>((resolve) => { engine.probe(host, p, resolve); });
    assert.equal(await result('127.0.0.1', port), undefined);
    // The probe closed its side: the server sees the connection end.
    assert.ok(await waitFor(() => ends.length === 1, 2000), 'the server never saw the probe close');
    assert.equal(await result('localhost', port), undefined);
    const closedPort = await freePort();
    assert.equal(await result('127.0.0.1', closedPort), 'ECONNREFUSED');
    assert.equal(await result('no-such-host.invalid', port), 'ENOTFOUND');
  });

  test(`${engine.name}: probe() of a black hole stays pending; cancel() closes it, reports nothing, leaves no handle`, async (t) => {
    const hole = await blackHole();
    t.after(() => hole.close());
    const before = tcpHandles();
    let reported = 0;
    const probing = Array.from({ length: 20 }, () => engine.probe('127.0.0.1', hole.port, () => { reported++; }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reported, 0, 'a connect to the black hole completed');
    assert.equal(tcpHandles(), before + 20, 'one handle per pending probe');
    for (const p of probing) { p.cancel(); p.cancel(); }
    assert.ok(await waitFor(() => tcpHandles() === before, 2000), `handles left open: ${tcpHandles() - before}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reported, 0);
  });

  test(`${engine.name}: a thousand probes, accepted and refused, leave no handle behind; cancel() after the report is harmless`, async (t) => {
    const { server, port } = await peer((socket) => socket.destroy());
    t.after(() => server.close());
    const closedPort = await freePort();
    const before = tcpHandles();
    const outcomes = new Map<string, number>();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => new Promise<void>((resolve) => {
      const probing = engine.probe('127.0.0.1', i % 2 ? port : closedPort, (error) => {
        outcomes.set(error ?? 'ok', (outcomes.get(error ?? 'ok') ?? 0) + 1);
        probing.cancel();
        resolve();
      });
    })));
    assert.deepEqual(Object.fromEntries(outcomes), { ok: 500, ECONNREFUSED: 500 });
    assert.ok(await waitFor(() => tcpHandles() <= before, 2000), `handles left open: ${tcpHandles() - before}`);
  });
}
