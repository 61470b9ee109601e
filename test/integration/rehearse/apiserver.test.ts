// The stand-in kube-apiserver / apid of rehearse's lab (issue 22), on loopback with real sockets: each behaviour
// a balancer meets, as its upstream source says (src/rehearse/apiserver.ts cites them).
import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { request } from 'node:https';
import { connect, type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CLIENT_AGENT, StandInNode, type NodeEvent } from '../../../src/rehearse/apiserver.js';
import { issueLabPki, type LabPki } from '../../../src/rehearse/pki.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

interface Answer { status: number; body: string; headers: Record<string, string | string[] | undefined> }

function get(port: number, ca: string, path: string, options: { cert?: { cert: string; key: string }; host?: boolean; agent?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, ca, agent: false, setHost: options.host ?? true, ...(options.cert ?? {}),
      headers: { 'user-agent': options.agent ?? `${CLIENT_AGENT} test` },
    }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c) => { out += c.toString('latin1'); });
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
  });
}

describe('the stand-in kube-apiserver', () => {
  let pki: LabPki;
  let node: StandInNode;
  let port: number;
  let talosPort: number;
  const events: NodeEvent[] = [];
  const make = async (anonymousAuth: boolean, shutdownDelayMs: number) => {
    const certs = pki.nodes.get('cp-01')!;
    const standIn = new StandInNode({ name: 'cp-01', kubernetesPort: port, talosPort, kubernetes: { ...certs.kubernetes, clientCa: pki.kubernetesCa }, talos: { ...certs.talos, clientCa: pki.talosCa }, anonymousAuth, shutdownDelayMs, onEvent: (e) => events.push(e) });
    await standIn.start();
    return standIn;
  };

  before(async () => {
    pki = await issueLabPki([{ name: 'cp-01', addresses: ['127.0.0.1'], kubernetesSans: [], talosSans: [] }]);
    port = await freePort();
    talosPort = await freePort();
    node = await make(false, 1500);
  });
  after(() => node.halt());

  test('TLS with a certificate for its address; an authenticated client lists, reads /version', async () => {
    const list = await get(port, pki.kubernetesCa, '/api/v1/namespaces/default/pods?limit=1', { cert: pki.admin });
    assert.equal(list.status, 200);
    assert.equal(list.headers['x-demo-node'], 'cp-01');
    assert.match((await get(port, pki.kubernetesCa, '/version', { cert: pki.admin })).body, /"gitVersion": "v1\.\d+\.\d+\+cp-01"/);
  });

  test('HTTP/1.1 without Host: 400 "missing required Host header", as Go net/http answers', async () => {
    const answer = await get(port, pki.kubernetesCa, '/readyz', { cert: pki.check, host: false, agent: '' });
    assert.equal(answer.status, 400);
    assert.equal(answer.body, '400 Bad Request: missing required Host header');
    assert.ok(events.some((e) => e.kind === 'missing-host' && e.from === 'check'));
  });

  test('anonymous auth off: 401 even for /readyz; a check with a certificate gets 200; a script\'s curl is told apart', async () => {
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { agent: '' })).status, 401);
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { agent: 'curl/7.88.1' })).status, 401);
    assert.ok(events.some((e) => e.kind === 'unauthorized' && e.from === 'script:curl'));
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { cert: pki.check, agent: '' })).status, 200);
    // No TLS session resumption hands out an identity (Node reports a resumed TLS 1.3 session as authorized).
    for (let i = 0; i < 3; i++) assert.equal((await get(port, pki.kubernetesCa, '/readyz', { agent: '' })).status, 401);
  });

  test('bytes that are not TLS: plain HTTP gets Go\'s 400, a PROXY header (v1 or v2) a closed connection', async () => {
    assert.equal(await raw(port, 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n'), 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
    assert.equal(await raw(port, 'PROXY TCP4 10.0.0.1 10.0.0.2 40000 6443\r\n'), '');
    assert.equal(await raw(port, Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11])), '');
    assert.equal(events.filter((e) => e.kind === 'proxy-header').length, 2);
  });

  test('the Talos API port: a gRPC call with a talosctl certificate works; a handshake without one is refused', async () => {
    const call = (cert?: { cert: string; key: string }) => new Promise<string>((resolve) => {
      const session = http2Connect(`https://127.0.0.1:${talosPort}`, { ca: pki.talosCa, ...(cert ?? {}) });
      session.on('error', (e) => { session.destroy(); resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`); });
      const stream = session.request({ ':method': 'POST', ':path': '/machine.MachineService/Version', 'content-type': 'application/grpc' });
      stream.on('trailers', (t) => { session.close(); resolve(`grpc-status ${String(t['grpc-status'])}`); });
      stream.on('error', (e: NodeJS.ErrnoException) => { session.destroy(); resolve(`error ${e.code ?? e.message}`); });
      stream.on('close', () => { session.destroy(); resolve('error closed'); });
      stream.resume();
      stream.end(Buffer.alloc(5));
    });
    assert.equal(await call(pki.talosctl), 'grpc-status 0');
    assert.match(await call(), /^error /);
  });

  test('a watch opens with one event and stays idle; an exec stream echoes', async () => {
    const lines = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/namespaces/default/pods?watch=1', ca: pki.kubernetesCa, agent: false, ...pki.admin }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        setTimeout(() => { req.destroy(); resolve(body); }, 400);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(lines.trim().split('\n').length, 1);
    assert.match(lines, /"type":"ADDED"/);
    const echo = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/namespaces/default/pods/p/exec?command=sh', ca: pki.kubernetesCa, agent: false, ...pki.admin, headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1' } });
      req.on('upgrade', (_res, socket) => { socket.write('ping'); socket.once('data', (d: Buffer) => { socket.destroy(); resolve(d.toString()); }); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(echo, 'ping');
  });

  test('unready with the port open: /readyz 500 ([-]etcd-readiness), requests 500; ready again', async () => {
    node.setReady(false);
    const readyz = await get(port, pki.kubernetesCa, '/readyz?verbose', { cert: pki.check });
    assert.equal(readyz.status, 500);
    assert.match(readyz.body, /\[-\]etcd-readiness failed: reason withheld\n[\s\S]*readyz check failed\n$/);
    assert.equal((await get(port, pki.kubernetesCa, '/livez', { cert: pki.check })).status, 200);
    assert.equal((await get(port, pki.kubernetesCa, '/api/v1/namespaces/default/pods', { cert: pki.admin })).status, 500);
    node.setReady(true);
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { cert: pki.check })).status, 200);
  });

  test('graceful shutdown: /readyz fails at once while it keeps serving for the shutdown delay, then the port closes', async () => {
    const started = Date.now();
    const stopped = node.shutdown();
    const readyz = await get(port, pki.kubernetesCa, '/readyz?verbose', { cert: pki.check });
    assert.equal(readyz.status, 500);
    assert.match(readyz.body, /\[-\]shutdown failed: reason withheld/);
    assert.equal((await get(port, pki.kubernetesCa, '/livez', { cert: pki.check })).status, 200, '/livez (like /healthz) stays 200 during the delay');
    assert.equal((await get(port, pki.kubernetesCa, '/api/v1/namespaces/default/pods', { cert: pki.admin })).status, 200, 'still serving');
    await stopped;
    assert.ok(Date.now() - started >= 1400, 'the listener closed only after the shutdown delay');
    await assert.rejects(get(port, pki.kubernetesCa, '/readyz', { cert: pki.check }), /ECONNREFUSED/);
    await node.start();
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { cert: pki.check })).status, 200);
  });

  test('anonymous auth on: the public health paths answer, anything else is 403 for system:anonymous', async () => {
    await node.halt();
    node = await make(true, 0);
    assert.equal((await get(port, pki.kubernetesCa, '/readyz', { agent: '' })).status, 200);
    const forbidden = await get(port, pki.kubernetesCa, '/api/v1/namespaces', { agent: '' });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /User \\"system:anonymous\\" cannot get path/);
  });
});
