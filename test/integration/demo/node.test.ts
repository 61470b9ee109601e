// The simulated control-plane node: its kube-apiserver answers (pure) and the same answers over real TLS
// sockets, its Talos TLS listener, and stop/start closing and reopening everything.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { answerKubeApi, versionInfo } from '../../../src/demo/kube-api.js';
import { SimulatedNode } from '../../../src/demo/node.js';
import { createCa, issueCertificate, type CertificateAuthority } from '../../../src/tls/certs.js';
import { canConnect, freePort } from '../../helpers/net.js';

const ID = { node: 'cp-02', address: '127.0.0.32', port: 6443 };

describe('answerKubeApi', () => {
  it('answers readyz, livez and healthz with "ok" as text', () => {
    for (const path of ['/readyz', '/livez', '/healthz', '/readyz/', '/livez/ping', '/readyz/etcd']) {
      const answer = answerKubeApi(ID, 'GET', path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.body, 'ok', path);
      assert.match(answer.headers['content-type'], /^text\/plain/);
      assert.equal(answer.headers['x-demo-node'], 'cp-02');
    }
  });

  it('lists the checks with ?verbose, as kube-apiserver does', () => {
    const answer = answerKubeApi(ID, 'GET', '/readyz?verbose');
    assert.match(answer.body, /^\[\+\]ping ok$/m);
    assert.match(answer.body, /readyz check passed\n$/);
    assert.equal(answerKubeApi(ID, 'GET', '/readyz/no-such-check').status, 404);
  });

  it('answers /version with the fields kubectl reads, naming the node', () => {
    const answer = answerKubeApi(ID, 'GET', '/version');
    assert.equal(answer.headers['content-type'], 'application/json');
    const info = JSON.parse(answer.body) as Record<string, string>;
    assert.deepEqual(Object.keys(info).sort(), ['buildDate', 'compiler', 'gitCommit', 'gitTreeState', 'gitVersion', 'goVersion', 'major', 'minor', 'platform']);
    assert.equal(info.major, '1');
    assert.match(info.gitVersion, /^v1\.\d+\.\d+\+cp-02$/);
    assert.deepEqual(info, versionInfo('cp-02'));
  });

  it('serves minimal discovery documents', () => {
    assert.deepEqual(JSON.parse(answerKubeApi(ID, 'GET', '/api').body).versions, ['v1']);
    assert.equal(JSON.parse(answerKubeApi(ID, 'GET', '/apis').body).kind, 'APIGroupList');
    assert.equal(JSON.parse(answerKubeApi(ID, 'GET', '/api/v1').body).groupVersion, 'v1');
    assert.deepEqual(JSON.parse(answerKubeApi(ID, 'GET', '/demo/node').body), { node: 'cp-02', address: '127.0.0.32', port: 6443 });
  });

  it('answers unknown paths and other methods with a Kubernetes Status', () => {
    const missing = answerKubeApi(ID, 'GET', '/api/v1/namespaces');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).reason, 'NotFound');
    const post = answerKubeApi(ID, 'POST', '/readyz');
    assert.equal(post.status, 405);
    assert.equal(JSON.parse(post.body).kind, 'Status');
  });
});

describe('SimulatedNode over real sockets', () => {
  let ca: CertificateAuthority;
  let node: SimulatedNode;

  before(async () => {
    ca = await createCa('node test CA', 1);
    const pair = await issueCertificate(ca, { commonName: 'cp-01', sans: ['127.0.0.1', 'localhost'], days: 1 });
    const kubernetesPort = await freePort();
    let talosPort = await freePort();
    while (talosPort === kubernetesPort) talosPort = await freePort();
    node = new SimulatedNode({ name: 'cp-01', address: '127.0.0.1', kubernetesPort, talosPort, cert: pair.cert, key: pair.key });
    await node.start();
  });
  after(() => node.stop());

  const get = (path: string) => new Promise<{ status?: number; node?: string; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.kubernetesPort, path, ca: ca.cert, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, node: res.headers['x-demo-node'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });

  it('answers over TLS with a certificate the CA verifies', async () => {
    const readyz = await get('/readyz');
    assert.equal(readyz.status, 200);
    assert.equal(readyz.body, 'ok');
    assert.equal(readyz.node, 'cp-01');
    const version = await get('/version');
    assert.match(JSON.parse(version.body).gitVersion, /\+cp-01$/);
    assert.ok(node.requests >= 2);
  });

  it('answers any bytes on the Talos port over TLS', async () => {
    const line = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: node.talosPort, ca: ca.cert, servername: 'localhost' }, () => socket.write('hello'));
      socket.setEncoding('utf8');
      socket.once('data', (d: string) => { socket.destroy(); resolve(d); });
      socket.once('error', reject);
    });
    assert.match(line, /^cp-01: simulated Talos apid on 127\.0\.0\.1:\d+\n$/);
  });

  it('stop closes both listeners and open connections; start reopens them', async () => {
    const kept = new Agent({ keepAlive: true });
    const first = await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: node.kubernetesPort, path: '/livez', ca: ca.cert, servername: 'localhost', agent: kept }, (res) => {
        const closed = new Promise<void>((r) => res.socket.once('close', () => r()));
        res.resume();
        res.on('end', () => resolve({ closed }));
      });
      req.on('error', reject);
      req.end();
    });
    await node.stop();
    assert.equal(node.running, false);
    await first.closed; // the idle keep-alive connection was closed by stop()
    assert.equal(await canConnect('127.0.0.1', node.kubernetesPort), false);
    assert.equal(await canConnect('127.0.0.1', node.talosPort), false);
    kept.destroy();

    await node.start();
    assert.equal(node.running, true);
    assert.equal((await get('/healthz')).body, 'ok');
    assert.equal(await canConnect('127.0.0.1', node.talosPort), true);
  });
});
