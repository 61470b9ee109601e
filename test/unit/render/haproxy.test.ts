// render haproxy: what the file says (pure), that HAProxy accepts it (`haproxy -c -f`), and that the
// rendered https /readyz check really marks servers up and down (real HAProxy, real TLS servers).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createConnection, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { tlsProbe } from '../../../src/health/probes/index.js';
import { promisify } from 'node:util';
import { haproxyRenderer, monitor, renderHaproxyConfig } from '../../../src/render/haproxy/index.js';
import { haproxyTime } from '../../../src/render/haproxy/time.js';
import { createCa, issueCertificate } from '../../../src/tls/certs.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { canConnect, freePort, waitFor } from '../../helpers/net.js';
import { GOLDEN_CONTEXT, loadSpec, renderError, specText } from './golden.js';

const exec = promisify(execFile);
const CASES = ['bare-metal-tcp', 'bare-metal-https-client-cert', 'bare-metal-workers', 'bare-metal-nopreempt'] as const;

const BASE = `
cluster: { name: t }
endpoint: 10.0.0.30
controlPlane:
  - { name: cp-01, address: 10.0.0.31 }
  - { name: cp-02, address: 10.0.0.32, weight: 3 }
workers:
  - { name: wk-01, address: 10.0.0.41 }
`;

const render = (extra: string) => renderHaproxyConfig(loadSpec(BASE + extra), GOLDEN_CONTEXT);

/** The lines of one section ("backend kubernetes"), without the header line. */
function section(config: string, name: string): string[] {
  const lines = config.split('\n');
  const start = lines.indexOf(name);
  assert.ok(start >= 0, `section "${name}" exists`);
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

async function haproxyAvailable(): Promise<boolean> {
  try { await exec('haproxy', ['-v']); return true; } catch { return false; }
}

test('haproxyTime writes one number and one unit', () => {
  assert.deepEqual([3_600_000, 1_800_000, 90_000, 10_000, 1500, 1, 0].map(haproxyTime), ['1h', '30m', '90s', '10s', '1500ms', '1ms', '0ms']);
});

test('one frontend and one backend per listener, balance explicit, servers are the nodes at targetPort', () => {
  const config = render('');
  for (const [name, port] of [['kubernetes', 6443], ['talos', 50000], ['talos-workers', 50001]] as const) {
    const frontend = section(config, `frontend ${name}`);
    assert.deepEqual(frontend, [`bind :${port}`, 'maxconn 20000', `default_backend ${name}`]);
    assert.ok(section(config, `backend ${name}`).includes('balance roundrobin'));
  }
  const kubernetes = section(config, 'backend kubernetes');
  assert.ok(kubernetes.includes('server cp-01 10.0.0.31:6443 weight 1'));
  assert.ok(kubernetes.includes('server cp-02 10.0.0.32:6443 weight 3'));
  assert.ok(section(config, 'backend talos-workers').includes('server wk-01 10.0.0.41:50000 weight 1'));
  assert.doesNotMatch(section(config, 'backend talos-workers').join('\n'), /cp-0/);
});

test('a node ports override is that server\'s port; the other servers keep targetPort', () => {
  const config = renderHaproxyConfig(loadSpec(BASE.replace('address: 10.0.0.32, weight: 3', 'address: 10.0.0.31, weight: 3, ports: { kubernetes: 7443 }')), GOLDEN_CONTEXT);
  const kubernetes = section(config, 'backend kubernetes');
  assert.ok(kubernetes.includes('server cp-01 10.0.0.31:6443 weight 1'), kubernetes.join('\n'));
  assert.ok(kubernetes.includes('server cp-02 10.0.0.31:7443 weight 3'), kubernetes.join('\n'));
  assert.ok(section(config, 'backend talos').includes('server cp-02 10.0.0.31:50000 weight 3'));
});

test('check timing, thresholds, retries and timeouts come from the spec', () => {
  const config = render(`
healthCheck: { interval: 7s, fastInterval: 700ms, timeout: 3s, healthyThreshold: 4, unhealthyThreshold: 5 }
balancer: { retries: 4, connectTimeout: 6s, idleTimeout: 45m, balance: leastconn }
deregistrationDelay: 2m
`);
  const backend = section(config, 'backend kubernetes');
  assert.ok(backend.includes('balance leastconn'));
  assert.ok(backend.includes('timeout check 3s'));
  assert.ok(backend.includes('default-server check inter 7s fastinter 700ms rise 4 fall 5 on-marked-down shutdown-sessions'));
  const defaults = section(config, 'defaults');
  for (const line of ['option redispatch 1', 'retries 4', 'timeout connect 6s', 'timeout client 45m', 'timeout server 45m', 'timeout tunnel 45m']) {
    assert.ok(defaults.includes(line), line);
  }
  assert.ok(section(config, 'global').includes('hard-stop-after 2m'));
});

test('defaults: idle timeouts of 1h for kubectl logs -f and watches, retries 2, hard-stop-after 30s', () => {
  const config = render('');
  assert.ok(section(config, 'defaults').includes('timeout client 1h'));
  assert.ok(section(config, 'defaults').includes('timeout tunnel 1h'));
  assert.ok(section(config, 'defaults').includes('retries 2'));
  assert.ok(section(config, 'global').includes('hard-stop-after 30s'));
  assert.ok(render('deregistrationDelay: 0s\n').includes('    hard-stop-after 1ms\n'), '0 would mean "never" to HAProxy');
});

test('https check: httpchk, connect ssl, send GET path, expect status; never ssl-hello-chk', () => {
  const config = render('healthCheck: { type: https, path: /readyz }\n');
  const backend = section(config, 'backend kubernetes');
  const at = (line: string) => backend.indexOf(line);
  assert.ok(at('option httpchk') >= 0);
  assert.ok(at('option httpchk') < at('http-check connect ssl'));
  assert.ok(at('http-check connect ssl') < at('http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 10.0.0.30'));
  assert.ok(at('http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 10.0.0.30') < at('http-check expect status 200'));
  assert.match(backend.join('\n'), /default-server check .* check-ssl verify none /);
  assert.doesNotMatch(config.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n'), /ssl-hello-chk/);
  assert.match(section(render('healthCheck: { type: https, expectStatuses: [200, 204] }\n'), 'backend kubernetes').join('\n'), /http-check expect rstatus \^\(200\|204\)\$/);
});

test('https check with a CA file and a client certificate', () => {
  const config = render(`
healthCheck:
  type: https
  caFile: /etc/haproxy/pki/ca.crt
  clientCertificate: { certFile: /etc/haproxy/pki/check.pem, keyFile: /etc/haproxy/pki/check.pem.key }
`);
  assert.match(config, /default-server check .* check-ssl verify required ca-file \/etc\/haproxy\/pki\/ca.crt crt \/etc\/haproxy\/pki\/check.pem /);
  const error = renderError(() => render(`
healthCheck:
  type: https
  clientCertificate: { certFile: /etc/kubernetes/pki/check.crt, keyFile: /etc/kubernetes/pki/check.key }
`));
  assert.equal(error.code, 'RENDER');
  assert.match(error.message, /clientCertificate/);
  assert.match(error.hint ?? '', /cat cert key/);
});

test('tls check is a handshake (check-ssl, no httpchk); tcp is a plain connect', () => {
  const tls = section(render('healthCheck: { type: tls }\n'), 'backend kubernetes').join('\n');
  assert.match(tls, /check-ssl verify none/);
  assert.doesNotMatch(tls, /httpchk|http-check/);
  const tcp = section(render(''), 'backend kubernetes').join('\n');
  assert.doesNotMatch(tcp, /check-ssl|httpchk|tcp-check/);
});

test('onMarkedDown keep and whenAllDown reject change the servers; fail-open adds backups', () => {
  const failOpen = section(render(''), 'backend kubernetes');
  assert.ok(failOpen.includes('option allbackups'));
  assert.ok(failOpen.includes('server cp-01-fail-open 10.0.0.31:6443 backup no-check weight 1'));
  const kept = section(render('balancer: { onMarkedDown: keep, whenAllDown: reject }\n'), 'backend kubernetes').join('\n');
  assert.doesNotMatch(kept, /shutdown-sessions|backup|allbackups/);
});

test('stats page and Prometheus exporter on loopback', () => {
  const stats = section(render(''), 'frontend stats');
  assert.ok(stats.includes('bind 127.0.0.1:8404'));
  assert.ok(stats.includes('mode http'));
  assert.ok(stats.includes('http-request use-service prometheus-exporter if { path /metrics }'));
  assert.ok(stats.includes('stats uri /'));
  const moved = section(render('balancer: { admin: "0.0.0.0:9000", adminToken: "0123456789abcdef0123" }\n'), 'frontend stats');
  assert.ok(moved.includes('bind 127.0.0.1:9000'), 'a non-loopback admin address stays on loopback for HAProxy');
});

test('binding the VIP: transparent, plus loopback so the frontend answers on every host', () => {
  const config = render(`
balancer: { bind: 10.0.0.30 }
vip: { address: 10.0.0.30, peers: [{ name: lb-1, address: 10.0.0.2, priority: 100 }] }
`);
  assert.deepEqual(section(config, 'frontend kubernetes').slice(0, 2), ['bind 10.0.0.30:6443 transparent', 'bind 127.0.0.1:6443']);
});

test('the stats frontend has the monitor keepalived asks: 200 while the main backend has a server up', () => {
  const stats = section(render(''), 'frontend stats');
  assert.ok(stats.includes('monitor-uri /ready'));
  assert.ok(stats.includes('acl kubernetes_live srv_is_up(kubernetes/cp-01)'));
  assert.ok(stats.includes('acl kubernetes_live srv_is_up(kubernetes/cp-02)'));
  assert.ok(stats.includes('monitor fail unless kubernetes_live'));
  assert.doesNotMatch(stats.join('\n'), /srv_is_up\(kubernetes\/cp-0\d-fail-open\)|nbsrv/, 'the unchecked fail-open backups never count');
  assert.deepEqual(monitor(loadSpec(BASE)), { host: '127.0.0.1', port: 8404, path: '/ready', backend: 'kubernetes' });
  assert.deepEqual(monitor(loadSpec(`${BASE}balancer: { admin: "[::1]:9000" }\n`)), { host: '::1', port: 9000, path: '/ready', backend: 'kubernetes' });
});

test('every file starts with the header naming the spec and the version', () => {
  const [file] = haproxyRenderer.render(loadSpec(BASE), { version: '9.9.9', specName: 'my/endpoint.yaml' });
  assert.equal(file.path, 'haproxy.cfg');
  assert.match(file.contents.split('\n')[0], /cluster-endpoint 9\.9\.9 .*my\/endpoint\.yaml/);
});

test('haproxy -c -f accepts every rendered haproxy.cfg', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, await haproxyAvailable(), 'haproxy is not installed (apt-get install haproxy)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-haproxy-c-'));
  try {
    // The client-certificate case names files in /etc/haproxy/pki; HAProxy loads them, so point at real ones.
    const pki = await writePki(dir);
    const specs = [
      ...CASES.map((name) => ({ name, text: specText(name).replaceAll('/etc/haproxy/pki/apiserver-check.pem', pki.client).replaceAll('/etc/haproxy/pki/kubernetes-ca.crt', pki.ca) })),
      { name: 'ipv6 bind', text: `${BASE}balancer: { bind: "::" }\n` },
      { name: 'defaults', text: BASE },
    ];
    for (const { name, text } of specs) {
      const [file] = haproxyRenderer.render(loadSpec(text), GOLDEN_CONTEXT);
      const path = join(dir, `${name.replaceAll(' ', '-')}.cfg`);
      await writeFile(path, file.contents);
      const result = await exec('haproxy', ['-c', '-f', path]).then(() => ({ ok: true, out: '' }), (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }));
      assert.ok(result.ok, `haproxy -c -f rejects ${name}:\n${result.out}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

interface Pki { ca: string; client: string; serverCert: string; serverKey: string; caPem: string }

async function writePki(dir: string): Promise<Pki> {
  const ca = await createCa('haproxy test CA', 2);
  const client = await issueCertificate(ca, { commonName: 'haproxy-check', sans: [], organization: 'system:monitoring', client: true, days: 2 });
  const server = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], days: 2 });
  const paths = { ca: join(dir, 'ca.crt'), client: join(dir, 'check.pem'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key') };
  await writeFile(paths.ca, `${ca.cert.trim()}\n`);
  // One PEM holding certificate and key (what HAProxy 2.6 reads); the PEM strings end without a newline.
  await writeFile(paths.client, `${client.cert.trim()}\n${client.key.trim()}\n`, { mode: 0o600 });
  await writeFile(paths.serverCert, server.cert);
  await writeFile(paths.serverKey, server.key, { mode: 0o600 });
  return { ...paths, caPem: ca.cert };
}

test('the rendered https /readyz check marks servers up and down in a real HAProxy', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, await haproxyAvailable(), 'haproxy is not installed (apt-get install haproxy)')) return;
  if (!requireOrSkip(t, process.getuid?.() === 0, 'needs root (a private mount for the rendered /run/haproxy/admin.sock)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-haproxy-run-'));
  const servers: Array<HttpsServer | TcpServer> = [];
  const plainSockets = new Set<Socket>();
  let haproxy: ReturnType<typeof spawn> | undefined;
  try {
    const pki = await writePki(dir);
    const serverTls = { cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey), ca: pki.caPem, requestCert: true, rejectUnauthorized: false };
    const targetPort = await freePort('127.0.0.2');
    const seen: Array<{ path: string | undefined; host: string | undefined; clientCert: boolean }> = [];
    // cp-01 is ready; cp-02 answers 500 (apiserver up, not ready); cp-03 speaks no TLS at all.
    for (const [address, status] of [['127.0.0.2', 200], ['127.0.0.3', 500]] as const) {
      const server = createHttpsServer(serverTls, (req, res) => {
        seen.push({ path: req.url, host: req.headers.host, clientCert: (req.socket as TLSSocket).authorized });
        res.writeHead(req.url === '/readyz' ? status : 404).end(status === 200 ? 'ok' : 'not ready');
      });
      await new Promise<void>((resolve) => server.listen(targetPort, address, resolve));
      servers.push(server);
    }
    const plain = createTcpServer((s) => { plainSockets.add(s); s.on('error', () => {}).on('close', () => plainSockets.delete(s)); s.end('not tls\n'); });
    plain.on('close', () => { for (const s of plainSockets) s.destroy(); });
    await new Promise<void>((resolve) => plain.listen(targetPort, '127.0.0.4', resolve));
    servers.push(plain);

    const port = await freePort();
    const adminPort = await freePort();
    const spec = loadSpec(`
cluster: { name: t }
endpoint: 127.0.0.1
controlPlane:
  - { name: cp-01, address: 127.0.0.2 }
  - { name: cp-02, address: 127.0.0.3 }
  - { name: cp-03, address: 127.0.0.4 }
listeners:
  - name: kubernetes
    port: ${port}
    targetPort: ${targetPort}
    targets: controlPlane
    healthCheck:
      type: https
      interval: 300ms
      timeout: 200ms
      healthyThreshold: 1
      unhealthyThreshold: 1
      caFile: ${pki.ca}
      clientCertificate: { certFile: ${pki.client}, keyFile: ${pki.client} }
balancer: { bind: 127.0.0.1, admin: "127.0.0.1:${adminPort}" }
`);
    const [file] = haproxyRenderer.render(spec, GOLDEN_CONTEXT);
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, file.contents);
    let output = '';
    haproxy = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir /run/haproxy && exec haproxy -db -f "$0"', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (d: Buffer) => { output += d; });
    haproxy.stderr?.on('data', (d: Buffer) => { output += d; });

    const states = async (): Promise<Record<string, string>> => {
      try {
        const csv = await (await fetch(`http://127.0.0.1:${adminPort}/;csv`)).text();
        const out: Record<string, string> = {};
        for (const row of csv.split('\n').map((l) => l.split(','))) if (row[0] === 'kubernetes' && /^cp-0\d$/.test(row[1])) out[row[1]] = row[17];
        return out;
      } catch { return {}; }
    };
    const want = { 'cp-01': 'UP', 'cp-02': 'DOWN', 'cp-03': 'DOWN' };
    const reached = await waitFor(async () => JSON.stringify(await states()) === JSON.stringify(want), 15_000, 100);
    assert.ok(reached, `server states ${JSON.stringify(await states())}, want ${JSON.stringify(want)}\n${output}`);

    const check = seen.find((s) => s.path === '/readyz');
    assert.ok(check, 'the check sent GET /readyz');
    assert.equal(check.host, '127.0.0.1', 'Host header is the endpoint');
    assert.equal(check.clientCert, true, 'the check presented the client certificate, and it verified against the CA');

    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    assert.match(metrics, /haproxy_server_status\{proxy="kubernetes",server="cp-01",state="UP"\} 1/);
  } finally {
    if (haproxy?.pid && haproxy.exitCode === null) {
      const closed = new Promise((r) => haproxy?.once('close', r));
      process.kill(haproxy.pid, 'SIGKILL');
      await closed;
    }
    for (const server of servers) {
      const closed = new Promise((r) => server.close(r));
      if ('closeAllConnections' in server) server.closeAllConnections();
      else for (const s of plainSockets) s.destroy();
      await closed;
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test('why never ssl-hello-chk: after httpchk it silently replaces the HTTP check (a 500 server stays UP)', { timeout: 30_000 }, async (t) => {
  if (!requireOrSkip(t, await haproxyAvailable(), 'haproxy is not installed (apt-get install haproxy)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-haproxy-hello-'));
  let haproxy: ReturnType<typeof spawn> | undefined;
  const pki = await writePki(dir);
  const server = createHttpsServer({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) }, (_req, res) => { res.writeHead(500).end('not ready'); });
  try {
    const port = await freePort('127.0.0.2');
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.2', resolve));
    const statsPort = await freePort();
    // kubeadm's former reference backend (kubernetes/kubeadm#3052) next to the rendered check rules.
    const cfg = join(dir, 'pitfall.cfg');
    await writeFile(cfg, [
      'defaults', '    mode tcp', '    timeout connect 1s', '    timeout client 5s', '    timeout server 5s',
      'backend kubeadm-docs', '    option httpchk GET /readyz', '    http-check expect status 200', '    option ssl-hello-chk',
      `    server cp 127.0.0.2:${port} check inter 200ms rise 1 fall 1`,
      'backend rendered', '    option httpchk', '    http-check connect ssl', '    http-check send meth GET uri /readyz', '    http-check expect status 200',
      `    server cp 127.0.0.2:${port} check inter 200ms rise 1 fall 1 check-ssl verify none`,
      'frontend stats', '    mode http', `    bind 127.0.0.1:${statsPort}`, '    stats enable', '    stats uri /', '',
    ].join('\n'));
    const accepted = await exec('haproxy', ['-c', '-f', cfg]);
    assert.doesNotMatch(accepted.stdout + accepted.stderr, /WARNING|ALERT/, 'haproxy -c does not even warn');
    haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
    const states = async () => {
      try {
        const csv = await (await fetch(`http://127.0.0.1:${statsPort}/;csv`)).text();
        return Object.fromEntries(csv.split('\n').map((l) => l.split(',')).filter((r) => r[1] === 'cp').map((r) => [r[0], `${r[17]} ${r[36]}`]));
      } catch { return {}; }
    };
    const want = { 'kubeadm-docs': 'UP L6OK', rendered: 'DOWN L7STS' };
    assert.ok(await waitFor(async () => JSON.stringify(await states()) === JSON.stringify(want), 10_000, 100), `states ${JSON.stringify(await states())}`);
  } finally {
    if (haproxy?.pid && haproxy.exitCode === null) {
      const closed = new Promise((r) => haproxy?.once('close', r));
      process.kill(haproxy.pid, 'SIGKILL');
      await closed;
    }
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Runs haproxy on a rendered file in a private mount namespace (its /run/haproxy/admin.sock on a tmpfs, and
 * `hosts` bind-mounted on /etc/hosts there when given, so server names resolve); root only.
 */
function runHaproxy(cfg: string, hosts?: string): { child: ReturnType<typeof spawn>; output: () => string; stop: () => Promise<void> } {
  let output = '';
  const script = `${hosts ? 'mount --bind "$1" /etc/hosts && ' : ''}mount -t tmpfs tmpfs /run && mkdir /run/haproxy && exec haproxy -db -f "$0"`;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, cfg, ...(hosts ? [hosts] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { output += d; });
  child.stderr?.on('data', (d: Buffer) => { output += d; });
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const closed = new Promise((r) => child.once('close', r));
      process.kill(child.pid, 'SIGKILL');
      await closed;
    },
  };
}

/** One connection from localAddress through host:port: what the server sent before the close ('' when HAProxy closed it empty). */
function fetchLine(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = createConnection({ host, port, ...(localAddress ? { localAddress } : {}) });
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (d: Buffer) => { data += d; });
    socket.on('error', () => {});
    socket.on('close', () => resolve(data.trim()));
  });
}

test('balancer.retries: a retry goes to another server (redispatch 1, hash-type consistent for source), measured in a real HAProxy', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, await haproxyAvailable(), 'haproxy is not installed (apt-get install haproxy)')) return;
  if (!requireOrSkip(t, process.getuid?.() === 0, 'needs root (a private mount for the rendered /run/haproxy/admin.sock)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-haproxy-redispatch-'));
  // cp-01 answers; cp-02 refuses every connection (nothing listens). HAProxy spreads the first checks over the
  // interval by server position (cp-01 at once, cp-02 after 5m / 2), so in the test's time cp-02 is never
  // checked, stays UP, and only the retry decides. Clients come from twelve source addresses, so `balance
  // source` hashes some of them to cp-02 (the hash is fixed: the same ones every run).
  const targetPort = await freePort('127.0.0.2');
  const live = createTcpServer((s) => { s.on('error', () => {}); s.end('cp-01\n'); });
  await new Promise<void>((resolve) => live.listen(targetPort, '127.0.0.2', resolve));
  const port = await freePort();
  const sources = Array.from({ length: 12 }, (_, i) => `127.0.1.${i + 1}`);
  const rendered = async (balance: string) => {
    const spec = loadSpec(`
cluster: { name: t }
endpoint: 127.0.0.1
controlPlane:
  - { name: cp-01, address: 127.0.0.2 }
  - { name: cp-02, address: 127.0.0.3 }
listeners:
  - { name: kubernetes, port: ${port}, targetPort: ${targetPort}, targets: controlPlane, balance: ${balance} }
healthCheck: { interval: 5m, fastInterval: 5m, timeout: 2s }
balancer: { bind: 127.0.0.1, admin: "127.0.0.1:${await freePort()}", retries: 2, connectTimeout: 1s, whenAllDown: reject }
`);
    return haproxyRenderer.render(spec, GOLDEN_CONTEXT)[0].contents;
  };
  const answers = async (config: string) => {
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, config);
    const haproxy = runHaproxy(cfg);
    try {
      assert.ok(await waitFor(() => canConnect('127.0.0.1', port), 10_000), `haproxy listens\n${haproxy.output()}`);
      const got: string[] = [];
      for (const source of sources) got.push(await fetchLine('127.0.0.1', port, source));
      return got;
    } finally {
      await haproxy.stop();
    }
  };
  try {
    const source = await rendered('source');
    assert.match(source, /^ {4}option redispatch 1$/m);
    assert.match(source, /^ {4}hash-type consistent$/m);
    assert.deepEqual(await answers(source), Array(sources.length).fill('cp-01'), 'balance source: every client reaches the live server');
    assert.deepEqual(await answers(await rendered('roundrobin')), Array(sources.length).fill('cp-01'), 'roundrobin: every client reaches the live server');
    // The test can fail: with the map-based hash and plain redispatch, the clients hashed to cp-02 are retried there.
    const before = await answers(source.replace(/^ {4}option redispatch 1$/m, '    option redispatch').replace(/^ {4}hash-type consistent$/m, ''));
    assert.ok(before.includes('') && before.includes('cp-01'), `without them the clients hashed to cp-02 fail: ${JSON.stringify(before)}`);
  } finally {
    await new Promise((r) => live.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});

test('a tls or https check with caFile verifies a named server\'s identity as serve does; an IP SAN HAProxy cannot match (real HAProxy)', { timeout: 90_000 }, async (t) => {
  if (!requireOrSkip(t, await haproxyAvailable(), 'haproxy is not installed (apt-get install haproxy)')) return;
  if (!requireOrSkip(t, process.getuid?.() === 0, 'needs root (a private mount for /run/haproxy and /etc/hosts)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-haproxy-identity-'));
  const servers: HttpsServer[] = [];
  let haproxy: ReturnType<typeof runHaproxy> | undefined;
  try {
    const ca = await createCa('identity test CA', 2);
    const caFile = join(dir, 'ca.crt');
    await writeFile(caFile, `${ca.cert.trim()}\n`);
    // cp-01 has its own certificate; cp-02 presents cp-01's: signed by the CA, for another name and address.
    const own = await issueCertificate(ca, { commonName: 'cp-01', sans: ['cp-01.test', '127.0.0.2'], days: 2 });
    const targetPort = await freePort('127.0.0.2');
    // Both answer GET /readyz with 200 (so the https check passes on the answer alone) and close.
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const server = createHttpsServer({ cert: own.cert, key: own.key }, (_req, res) => { res.writeHead(200, { connection: 'close' }).end('ok'); });
      await new Promise<void>((resolve) => server.listen(targetPort, address, resolve));
      servers.push(server);
    }
    const hosts = join(dir, 'hosts');
    await writeFile(hosts, '127.0.0.1 localhost\n127.0.0.2 cp-01.test\n127.0.0.3 cp-02.test\n');
    const check = { type: 'tls' as const, intervalMs: 300, timeoutMs: 200, caFile };
    /** Server → state, once every server has a check result (check_status L4…/L6…), else undefined. */
    const checked = async (adminPort: number): Promise<Record<string, string> | undefined> => {
      try {
        const csv = await (await fetch(`http://127.0.0.1:${adminPort}/;csv`)).text();
        const rows = csv.split('\n').map((l) => l.split(',')).filter((r) => r[0] === 'kubernetes' && /^cp-0\d$/.test(r[1]));
        return rows.length === 2 && rows.every((r) => /^(\* )?L\d/.test(r[36])) ? Object.fromEntries(rows.map((r) => [r[1], r[17]])) : undefined;
      } catch { return undefined; }
    };
    const run = async (addresses: [string, string], type: 'tls' | 'https') => {
      const port = await freePort();
      const adminPort = await freePort();
      const spec = loadSpec(`
cluster: { name: t }
endpoint: 127.0.0.1
controlPlane:
  - { name: cp-01, address: ${addresses[0]} }
  - { name: cp-02, address: ${addresses[1]} }
listeners:
  - name: kubernetes
    port: ${port}
    targetPort: ${targetPort}
    targets: controlPlane
    healthCheck: { type: ${type}, interval: 300ms, timeout: 200ms, healthyThreshold: 1, unhealthyThreshold: 1, caFile: ${caFile} }
balancer: { bind: 127.0.0.1, admin: "127.0.0.1:${adminPort}", whenAllDown: reject }
`);
      const [file] = haproxyRenderer.render(spec, GOLDEN_CONTEXT);
      const cfg = join(dir, 'haproxy.cfg');
      await writeFile(cfg, file.contents);
      haproxy = runHaproxy(cfg, hosts);
      // Servers start UP; with rise 1 / fall 1 the first check result is the verdict.
      const states = await waitFor(() => checked(adminPort), 10_000, 100);
      await haproxy.stop();
      assert.ok(states, `every server is checked\n${haproxy.output()}`);
      return { file: file.contents, states };
    };

    // Servers by name: check-sni, and HAProxy verifies the name, so cp-02 (showing cp-01's certificate) is down.
    for (const type of ['tls', 'https'] as const) {
      const named = await run(['cp-01.test', 'cp-02.test'], type);
      assert.match(named.file, /^ {4}server cp-02 cp-02\.test:\d+ weight 1 check-sni cp-02\.test$/m);
      assert.deepEqual(named.states, { 'cp-01': 'UP', 'cp-02': 'DOWN' }, type);
    }
    // serve's own check agrees (it sends the name and verifies it): its verdicts are the same.
    const probe = async (address: string) => (await tlsProbe({ address, port: targetPort }, { ...loadSpec(BASE).healthCheck, ...check }, AbortSignal.timeout(2000))).ok;
    assert.equal(await probe('127.0.0.2'), true, 'serve: cp-01 at 127.0.0.2 (its IP SAN)');
    assert.equal(await probe('127.0.0.3'), false, 'serve: cp-02 at 127.0.0.3 shows a certificate without that IP SAN');

    // Servers by address: HAProxy matches DNS names only, so it cannot tell cp-02's certificate is not its own;
    // the file says so, and this records it (a future HAProxy that matches IP SANs fails this line first).
    const byAddress = await run(['127.0.0.2', '127.0.0.3'], 'tls');
    assert.match(byAddress.file, /cannot match an IP address\n {4}# against its IP SANs/);
    assert.doesNotMatch(byAddress.file, /^ {4}server .*check-sni/m);
    assert.deepEqual(byAddress.states, { 'cp-01': 'UP', 'cp-02': 'UP' });
  } finally {
    await haproxy?.stop();
    for (const server of servers) await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});
