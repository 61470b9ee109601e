// Probes against real servers on 127.0.0.1: one attempt each, every failure a reason, never a throw.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { PROBES, httpsProbe, tcpProbe, tlsProbe } from '../../../src/health/probes/index.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';
import { checkOf, closeServer, listen, makePki, type Pki } from './fixtures.js';

const HOST = '127.0.0.1';
const signal = () => AbortSignal.timeout(2000);

let pki: Pki;
before(async () => { pki = await makePki(); });
after(async () => { await pki.remove(); });

describe('registry', () => {
  it('has one probe per check type', () => {
    assert.deepEqual(Object.keys(PROBES).sort(), ['https', 'tcp', 'tls']);
    assert.equal(PROBES.tcp, tcpProbe);
    assert.equal(PROBES.tls, tlsProbe);
    assert.equal(PROBES.https, httpsProbe);
  });
});

describe('tcp probe', () => {
  it('succeeds against a listening server and closes its connection', async () => {
    const sockets: Socket[] = [];
    const server = createNetServer((s) => { sockets.push(s); });
    const port = await listen(server);
    try {
      const result = await tcpProbe({ address: HOST, port }, checkOf(), signal());
      assert.equal(result.ok, true);
      assert.equal(result.reason, 'connect ok');
      assert.ok(result.latencyMs >= 0 && result.latencyMs < 2000);
      assert.ok(Math.abs(result.at - Date.now()) < 2000);
      // The probe closed its side: the server sees the connection end.
      await new Promise<void>((resolve) => {
        const check = () => (sockets.length === 1 && sockets[0].destroyed ? resolve() : setTimeout(check, 10));
        sockets[0]?.resume();
        sockets[0]?.once('close', () => resolve());
        check();
      });
    } finally {
      await closeServer(server);
    }
  });

  it('works over IPv6 loopback', async (t) => {
    const server = createNetServer((s) => s.resume());
    const ok = await listen(server, '::1').then(() => true, () => false);
    if (!requireOrSkip(t, ok, 'no IPv6 loopback (::1) on this machine')) return;
    try {
      const port = (server.address() as { port: number }).port;
      const result = await tcpProbe({ address: '::1', port }, checkOf(), signal());
      assert.deepEqual([result.ok, result.reason], [true, 'connect ok']);
    } finally {
      await closeServer(server);
    }
  });

  it('fails against a closed port with the socket error code', async () => {
    const port = await freePort();
    const result = await tcpProbe({ address: HOST, port }, checkOf(), signal());
    assert.deepEqual([result.ok, result.reason], [false, 'connect ECONNREFUSED']);
  });

  it('reports an already-aborted signal as aborted without connecting', async () => {
    let accepted = 0;
    const server = createNetServer((s) => { accepted++; s.destroy(); });
    const port = await listen(server);
    try {
      const result = await tcpProbe({ address: HOST, port }, checkOf(), AbortSignal.abort());
      assert.deepEqual([result.ok, result.reason], [false, 'aborted']);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(accepted, 0);
    } finally {
      await closeServer(server);
    }
  });
});

/** A TCP server that accepts and then says nothing: TLS and HTTPS probes must time out. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const port = await listen(server);
  return { port, close: async () => { for (const s of sockets) s.destroy(); await closeServer(server); } };
}

describe('tls probe', () => {
  let port: number;
  let server: ReturnType<typeof createTlsServer>;
  before(async () => {
    server = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (s) => s.end());
    port = await listen(server);
  });
  after(() => closeServer(server));

  it('completes a handshake without verification when no caFile is given', async () => {
    const result = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls' }), signal());
    assert.deepEqual([result.ok, result.reason], [true, 'tls TLSv1.3']);
  });

  it('verifies the server against caFile', async () => {
    const result = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: pki.caFile }), signal());
    assert.deepEqual([result.ok, result.reason], [true, 'tls TLSv1.3']);
  });

  it('sends a DNS-name address as SNI and verifies it; sends no SNI for an IP address', async () => {
    // SNICallback runs on the ClientHello, and only when the client sent SNI.
    const names: string[] = [];
    const context = createSecureContext({ cert: pki.server.cert, key: pki.server.key });
    const named = createTlsServer({ cert: pki.server.cert, key: pki.server.key, SNICallback: (name, cb) => { names.push(name); cb(null, context); } }, (s) => s.end());
    // Listening on "localhost" picks the same address the probe's lookup of "localhost" picks.
    const namedPort = await listen(named, 'localhost');
    try {
      const byName = await tlsProbe({ address: 'localhost', port: namedPort }, checkOf({ type: 'tls', caFile: pki.caFile }), signal());
      assert.deepEqual([byName.ok, byName.reason], [true, 'tls TLSv1.3']);
      const byIp = await tlsProbe({ address: (named.address() as { address: string }).address, port: namedPort }, checkOf({ type: 'tls', caFile: pki.caFile }), signal());
      assert.deepEqual([byIp.ok, byIp.reason], [true, 'tls TLSv1.3']);
      assert.deepEqual(names, ['localhost']);
    } finally {
      await closeServer(named);
    }
  });

  it('fails when the certificate is signed by another CA', async () => {
    const result = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: pki.otherCaFile }), signal());
    assert.equal(result.ok, false);
    assert.match(result.reason, /^tls (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/);
  });

  it('fails when the certificate does not name the address', async () => {
    // Same server, reached on 127.0.0.2 (loopback), which is not among its SANs.
    const other = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (s) => s.end());
    const otherPort = await listen(other, '127.0.0.2');
    try {
      const verified = await tlsProbe({ address: '127.0.0.2', port: otherPort }, checkOf({ type: 'tls', caFile: pki.caFile }), signal());
      assert.deepEqual([verified.ok, verified.reason], [false, 'tls ERR_TLS_CERT_ALTNAME_INVALID']);
      const unverified = await tlsProbe({ address: '127.0.0.2', port: otherPort }, checkOf({ type: 'tls' }), signal());
      assert.equal(unverified.ok, true);
    } finally {
      await closeServer(other);
    }
  });

  it('fails against a plain TCP server that does not speak TLS', async () => {
    const plain = createNetServer((s) => { s.resume(); s.end('SSH-2.0-OpenSSH_9.2\r\n'); });
    const plainPort = await listen(plain);
    try {
      const result = await tlsProbe({ address: HOST, port: plainPort }, checkOf({ type: 'tls' }), signal());
      assert.equal(result.ok, false);
      assert.match(result.reason, /^tls /);
    } finally {
      await closeServer(plain);
    }
  });

  it('fails against a closed port at the connect phase', async () => {
    const result = await tlsProbe({ address: HOST, port: await freePort() }, checkOf({ type: 'tls' }), signal());
    assert.deepEqual([result.ok, result.reason], [false, 'connect ECONNREFUSED']);
  });

  it('times out against a server that accepts TCP but never answers TLS', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const result = await tlsProbe({ address: HOST, port: silent.port }, checkOf({ type: 'tls', timeoutMs: 150 }), AbortSignal.timeout(150));
      const took = Date.now() - started;
      assert.deepEqual([result.ok, result.reason], [false, 'timeout after 150ms']);
      assert.ok(took >= 140 && took < 1000, `took ${took}ms`);
    } finally {
      await silent.close();
    }
  });

  it('reports an unreadable caFile as the reason', async () => {
    const missing = `${pki.dir}/nope.pem`;
    const result = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: missing }), signal());
    assert.deepEqual([result.ok, result.reason], [false, `caFile ENOENT ${missing}`]);
  });

  it('reads caFile once, not on every attempt', async () => {
    const cached = `${pki.dir}/cached-ca.pem`;
    const fixed = new Date('2026-01-01T00:00:00Z');
    await writeFile(cached, pki.caPem);
    await utimes(cached, fixed, fixed);
    const first = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: cached }), signal());
    assert.equal(first.ok, true);
    // Same size and modification time, unreadable content: a probe that read the file again would fail.
    await writeFile(cached, 'x'.repeat(pki.caPem.length));
    await utimes(cached, fixed, fixed);
    const second = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: cached }), signal());
    assert.deepEqual([second.ok, second.reason], [true, 'tls TLSv1.3']);
  });

  it('re-reads caFile when it changes (certificate rotation)', async () => {
    const rotating = `${pki.dir}/rotating-ca.pem`;
    await writeFile(rotating, await readFile(pki.otherCaFile));
    const before = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: rotating }), signal());
    assert.equal(before.ok, false);
    await new Promise((r) => setTimeout(r, 20)); // a distinct mtime
    await writeFile(rotating, pki.caPem);
    const afterRotation = await tlsProbe({ address: HOST, port }, checkOf({ type: 'tls', caFile: rotating }), signal());
    assert.deepEqual([afterRotation.ok, afterRotation.reason], [true, 'tls TLSv1.3']);
  });
});

describe('https probe', () => {
  let port: number;
  let mtlsPort: number;
  const seen: Array<{ path: string; connection?: string }> = [];
  let server: ReturnType<typeof createHttpsServer>;
  let mtls: ReturnType<typeof createHttpsServer>;

  before(async () => {
    // Like kube-apiserver with anonymous auth off: /readyz is 200 only with a client certificate.
    server = createHttpsServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false, ca: pki.caPem }, (req, res) => {
      seen.push({ path: req.url ?? '', connection: req.headers.connection });
      const authenticated = (req.socket as import('node:tls').TLSSocket).authorized;
      if (req.url === '/readyz' && authenticated) return res.writeHead(200).end('ok');
      if (req.url === '/readyz') return res.writeHead(401).end('{"kind":"Status","code":401}');
      if (req.url === '/livez') return res.writeHead(200).end('ok');
      return res.writeHead(404).end();
    });
    port = await listen(server);
    // A server that refuses the TLS handshake without a client certificate signed by the CA (like talos apid).
    mtls = createHttpsServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: true, ca: pki.caPem }, (_req, res) => {
      res.writeHead(200).end('ok');
    });
    mtlsPort = await listen(mtls);
  });
  after(async () => { await closeServer(server); await closeServer(mtls); });

  it('is healthy on 200 and sends Connection: close', async () => {
    const result = await httpsProbe({ address: HOST, port }, checkOf({ type: 'https', path: '/livez' }), signal());
    assert.deepEqual([result.ok, result.reason], [true, 'https 200']);
    assert.deepEqual(seen.at(-1), { path: '/livez', connection: 'close' });
  });

  it('is unhealthy on 401 (anonymous request) unless 401 is expected', async () => {
    const strict = await httpsProbe({ address: HOST, port }, checkOf({ type: 'https', path: '/readyz' }), signal());
    assert.deepEqual([strict.ok, strict.reason], [false, 'https 401 (expected 200)']);
    const lenient = await httpsProbe({ address: HOST, port }, checkOf({ type: 'https', path: '/readyz', expectStatuses: [200, 401] }), signal());
    assert.deepEqual([lenient.ok, lenient.reason], [true, 'https 401']);
  });

  it('gets 200 from /readyz when it presents the client certificate', async () => {
    const result = await httpsProbe({ address: HOST, port }, checkOf({ type: 'https', path: '/readyz', clientCertificate: pki.clientCertificate, caFile: pki.caFile }), signal());
    assert.deepEqual([result.ok, result.reason], [true, 'https 200']);
  });

  it('against a server that requires a client certificate: succeeds only when one is configured', async () => {
    const without = await httpsProbe({ address: HOST, port: mtlsPort }, checkOf({ type: 'https' }), signal());
    assert.equal(without.ok, false);
    assert.match(without.reason, /^(tls|https) /);
    const withCert = await httpsProbe({ address: HOST, port: mtlsPort }, checkOf({ type: 'https', clientCertificate: pki.clientCertificate }), signal());
    assert.deepEqual([withCert.ok, withCert.reason], [true, 'https 200']);
  });

  it('fails verification against the wrong CA before sending a request', async () => {
    const count = seen.length;
    const result = await httpsProbe({ address: HOST, port }, checkOf({ type: 'https', path: '/livez', caFile: pki.otherCaFile }), signal());
    assert.equal(result.ok, false);
    assert.match(result.reason, /^tls (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/);
    assert.equal(seen.length, count);
  });

  it('fails against a closed port at the connect phase', async () => {
    const result = await httpsProbe({ address: HOST, port: await freePort() }, checkOf({ type: 'https' }), signal());
    assert.deepEqual([result.ok, result.reason], [false, 'connect ECONNREFUSED']);
  });

  it('times out against a server that accepts TCP but never answers TLS', async () => {
    const silent = await silentServer();
    try {
      const result = await httpsProbe({ address: HOST, port: silent.port }, checkOf({ type: 'https', timeoutMs: 150 }), AbortSignal.timeout(150));
      assert.deepEqual([result.ok, result.reason], [false, 'timeout after 150ms']);
    } finally {
      await silent.close();
    }
  });

  it('times out against a server that completes TLS but never answers HTTP', async () => {
    const hanging = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, () => { /* read, never answer */ });
    const sockets = new Set<Socket>();
    hanging.on('secureConnection', (s) => { sockets.add(s); });
    const hangingPort = await listen(hanging);
    try {
      const result = await httpsProbe({ address: HOST, port: hangingPort }, checkOf({ type: 'https', timeoutMs: 200 }), AbortSignal.timeout(200));
      assert.deepEqual([result.ok, result.reason], [false, 'timeout after 200ms']);
    } finally {
      for (const s of sockets) s.destroy();
      await closeServer(hanging);
    }
  });
});
