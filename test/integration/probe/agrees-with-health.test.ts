// probe and the health checks make the same TCP connect and the same TLS handshake: against every kind
// of server (refusing, silent, closing, plain TCP, TLS) they reach the same verdict for the same reason.
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { tcpProbe, tlsProbe } from '../../../src/health/probes/index.js';
import { checkTcp } from '../../../src/probe/checks/tcp.js';
import { checkTls } from '../../../src/probe/checks/tls.js';
import { freePort } from '../../helpers/net.js';
import { checkOf, closeServer, listen, makePki, type Pki } from '../health/fixtures.js';

const HOST = '127.0.0.1';
const TIMEOUT_MS = 300;

let pki: Pki;
const servers: Server[] = [];
const ports: Record<string, number> = {};

before(async () => {
  pki = await makePki();
  const start = async (name: string, server: Server) => { servers.push(server); ports[name] = await listen(server); };
  await start('silent', createNetServer((s) => { s.on('error', () => {}); }));
  await start('closes', createNetServer((s) => { s.destroy(); }));
  await start('plain text', createNetServer((s) => { s.on('error', () => {}); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); }));
  await start('tls', createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (s) => { s.on('error', () => {}); s.end(); }));
  ports.refusing = await freePort();
});
after(async () => {
  await Promise.all(servers.map((s) => closeServer(s)));
  await pki.remove();
});

/** The failure as probe shows it: the health check's reason without its phase ("connect ECONNREFUSED" → "ECONNREFUSED"). */
const bare = (reason: string) => reason.replace(/^(connect|tls) /, '');

describe('probe and the health checks agree about a server', () => {
  for (const name of ['refusing', 'silent', 'closes', 'plain text', 'tls']) {
    it(`${name}: same TCP verdict`, async () => {
      const target = { address: HOST, port: ports[name] };
      const [health, probe] = await Promise.all([
        tcpProbe(target, checkOf({ timeoutMs: TIMEOUT_MS }), AbortSignal.timeout(TIMEOUT_MS)),
        checkTcp(HOST, ports[name], TIMEOUT_MS),
      ]);
      assert.equal(probe.ok, health.ok, `health: ${health.reason}, probe: ${probe.error ?? 'ok'}`);
      if (!health.ok) assert.equal(probe.error, bare(health.reason));
      assert.equal(health.ok, name !== 'refusing');
    });

    it(`${name}: same TLS verdict`, async () => {
      const target = { address: HOST, port: ports[name] };
      const [health, probe] = await Promise.all([
        tlsProbe(target, checkOf({ type: 'tls', timeoutMs: TIMEOUT_MS }), AbortSignal.timeout(TIMEOUT_MS)),
        checkTls(HOST, ports[name], HOST, TIMEOUT_MS),
      ]);
      assert.equal(probe.ok, health.ok, `health: ${health.reason}, probe: ${probe.error ?? 'ok'}`);
      if (!health.ok) assert.equal(probe.error, bare(health.reason));
      assert.equal(health.ok, name === 'tls');
      if (name === 'silent') assert.equal(health.reason, 'timeout after 300ms');
    });
  }
});
