// alone: measures failover times: no other test shares the CPU (test/run.sh)
// BGP session options and several serves on one LB host, with the real `serve` and BIRD on both sides (issue 19
// items 7, 11, 12). One LB host, a router running BIRD, a control-plane stand-in:
//
//   r: to-lb 10.252.1.1/24 fd00:252:1::1/64 fe80::1, lo 10.252.200.1 ── lb: eth0 10.252.1.2,.3,.4/24 fd00:252:1::2/64 fe80::2
//   r: to-cp 10.252.5.1/24 ── cp: eth0 10.252.5.21 (answers "cp-01 <peer>" on 6443 and 7443)
//
// Cluster alpha (serve A): a dual-stack endpoint (10.252.100.1 and fd00:252:100::1), announced over three sessions:
// IPv4 with a TCP MD5 password from a file and its own source address, IPv6 to a link-local router, and a multihop
// session from another source address to the router's loopback with per-peer BFD timers. Cluster beta (serve B)
// runs next to it on the same host with its own run directory and source address. 10.252.0.0/16 and
// fd00:252::/32 live only inside these namespaces.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { requireOrSkip } from '../../helpers/cli.js';
import { spawnInNamespace, type NsProc } from '../../helpers/proc.js';
import { canUseNamespaces, hasBird, ROOT, sleep } from './bed.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'src/cli/main.ts');
const NS_PREFIX = 'cebgs';
const MD5 = 'alpha-md5-s3cret';

let lab: Lab | undefined;
let ready = false;

before(async () => {
  ready = (await canUseNamespaces()) && (await hasBird());
  if (ready) lab = await Lab.create();
});

after(async () => { await lab?.cleanup(); });

class Lab {
  readonly id = `${process.pid}x${randomInt(36 ** 3).toString(36)}`;
  readonly dir: string;
  readonly procs = new Set<NsProc>();
  readonly namespaces: string[] = [];
  router: NsProc | undefined;

  private constructor(dir: string) { this.dir = dir; }

  static async create(): Promise<Lab> {
    await removeStale();
    const created = new Lab(await mkdtemp(join(tmpdir(), 'cebgs-')));
    try {
      await created.#build();
      return created;
    } catch (error) {
      await created.cleanup();
      throw error;
    }
  }

  ns(host: string): string { return `${NS_PREFIX}-${this.id}-${host}`; }

  async #build(): Promise<void> {
    for (const host of ['r', 'lb', 'cp']) {
      await ip('netns', 'add', this.ns(host));
      this.namespaces.push(this.ns(host));
      await ip('-n', this.ns(host), 'link', 'set', 'lo', 'up');
    }
    const r = this.ns('r');
    await sysctl(r, 'net.ipv4.ip_forward', '1');
    await sysctl(r, 'net.ipv6.conf.all.forwarding', '1');
    await this.#veth('lb');
    await this.#veth('cp');
    await ip('-n', r, 'addr', 'add', '10.252.1.1/24', 'dev', 'to-lb');
    await ip('-n', r, 'addr', 'add', 'fd00:252:1::1/64', 'dev', 'to-lb', 'nodad');
    await ip('-n', r, 'addr', 'add', 'fe80::1/64', 'dev', 'to-lb', 'nodad');
    await ip('-n', r, 'addr', 'add', '10.252.200.1/32', 'dev', 'lo');
    await ip('-n', r, 'addr', 'add', '10.252.5.1/24', 'dev', 'to-cp');
    const lb = this.ns('lb');
    for (const address of ['10.252.1.2/24', '10.252.1.3/24', '10.252.1.4/24']) await ip('-n', lb, 'addr', 'add', address, 'dev', 'eth0');
    await ip('-n', lb, 'addr', 'add', 'fd00:252:1::2/64', 'dev', 'eth0', 'nodad');
    await ip('-n', lb, 'addr', 'add', 'fe80::2/64', 'dev', 'eth0', 'nodad');
    await ip('-n', lb, 'route', 'add', '10.252.0.0/16', 'via', '10.252.1.1');
    await ip('-n', this.ns('cp'), 'addr', 'add', '10.252.5.21/24', 'dev', 'eth0');
    await ip('-n', this.ns('cp'), 'route', 'add', '10.252.0.0/16', 'via', '10.252.5.1');
    const code = `for (const port of [6443, 7443]) require('net').createServer((s) => { s.on('error', () => {}); s.end('cp-01 ' + port + '\\n'); }).listen(port, '0.0.0.0'); console.log('listening');`;
    await this.spawn('cp', [process.execPath, '-e', code]).waitForLine((l) => l.text === 'listening');
    await writeFile(join(this.dir, 'router.conf'), ROUTER_CONF);
    this.router = this.spawn('r', ['bird', '-f', '-c', join(this.dir, 'router.conf'), '-s', this.routerSocket, '-P', join(this.dir, 'router.pid')]);
    await this.router.waitForLine((l) => /Started|ready/.test(l.text), 10_000);
  }

  get routerSocket(): string { return join(this.dir, 'router.ctl'); }

  async #veth(host: string): Promise<void> {
    const veth = `cs${randomInt(36 ** 5).toString(36)}`;
    await ip('link', 'add', `${veth}r`, 'type', 'veth', 'peer', 'name', `${veth}h`);
    await ip('link', 'set', `${veth}r`, 'netns', this.ns('r'));
    await ip('link', 'set', `${veth}h`, 'netns', this.ns(host));
    await ip('-n', this.ns('r'), 'link', 'set', `${veth}r`, 'name', `to-${host}`);
    await ip('-n', this.ns(host), 'link', 'set', `${veth}h`, 'name', 'eth0');
    await ip('-n', this.ns('r'), 'link', 'set', `to-${host}`, 'up');
    await ip('-n', this.ns(host), 'link', 'set', 'eth0', 'up');
  }

  /** Writes a spec and starts `serve` on the LB host with it. */
  async serve(name: string, spec: string, args: string[] = []): Promise<NsProc> {
    await mkdir(join(this.dir, name), { recursive: true });
    const path = join(this.dir, name, 'endpoint.yaml');
    await writeFile(path, spec);
    return this.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', path, ...args], { CLUSTER_ENDPOINT_LOG_LEVEL: 'info' });
  }

  async birdc(command: string): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.ns('r'), 'birdc', '-s', this.routerSocket, ...command.split(' ')])).stdout;
  }

  /** The router's protocol states by name (BIRD's `show protocols`). */
  async routerSessions(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const line of (await this.birdc('show protocols')).split('\n')) {
      const [name, proto, , , , info] = line.trim().split(/\s+/);
      if (proto === 'BGP') out[name] = info ?? '';
    }
    return out;
  }

  async waitForSessions(names: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen: Record<string, string> = {};
    while (Date.now() < deadline) {
      seen = await this.routerSessions();
      if (names.every((n) => seen[n] === 'Established')) return;
      await sleep(100);
    }
    throw new Error(`router sessions ${JSON.stringify(seen)}, expected ${names.join(', ')} established within ${timeoutMs} ms\n${[...this.procs].map((p) => p.lines.slice(-6).map((l) => String(l.json?.msg ?? l.text)).join('\n')).join('\n--\n')}`);
  }

  /** The router's kernel route to a host address: its next hops (empty when there is none). */
  async routeVia(prefix: string): Promise<string[]> {
    const family = prefix.includes(':') ? '-6' : '-4';
    const routes = JSON.parse((await run('ip', [family, '-j', '-n', this.ns('r'), 'route', 'show', prefix])).stdout || '[]') as { gateway?: string; nexthops?: { gateway: string }[]; dev?: string }[];
    const route = routes[0];
    if (!route) return [];
    return route.nexthops ? route.nexthops.map((n) => n.gateway) : [route.gateway ?? route.dev ?? '?'];
  }

  /** Until the route is there (with these next hops, when given) or gone. */
  async waitForRoute(prefix: string, present: boolean | string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await this.routeVia(prefix);
      if (Array.isArray(present) ? seen.sort().join() === [...present].sort().join() : seen.length > 0 === present) return;
      await sleep(100);
    }
    throw new Error(`the router's route to ${prefix} is [${seen.join(', ')}], not ${JSON.stringify(present)}, after ${timeoutMs} ms`);
  }

  /** One TCP connection from the router namespace; the line the stand-in answers through serve. */
  async fetch(host: string, port: number): Promise<string> {
    const code = `const s = require('net').connect(${port}, ${JSON.stringify(host)}); let d = ''; s.on('data', (c) => { d += c; }); s.on('end', () => { console.log(d.trim()); process.exit(0); }); s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); }); setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);`;
    return (await run('ip', ['netns', 'exec', this.ns('r'), process.execPath, '-e', code])).stdout.trim();
  }

  async status(admin: string): Promise<Record<string, any>> {
    const { stdout } = await run('ip', ['netns', 'exec', this.ns('lb'), 'curl', '-sf', '--max-time', '2', `http://${admin}/api/status`]);
    return JSON.parse(stdout) as Record<string, any>;
  }

  /** The last lines of every process, for a failure message. */
  logs(): string {
    return [...this.procs].map((p) => p.lines.slice(-12).map((l) => String(l.json?.msg ?? l.text)).join('\n')).join('\n--\n');
  }

  spawn(host: string, args: string[], env: NodeJS.ProcessEnv = {}): NsProc {
    const proc = spawnInNamespace(this.ns(host), args, host, { env, cwd: ROOT });
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  async stop(proc: NsProc): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(10_000)]);
  }

  async cleanup(): Promise<void> {
    for (const proc of this.procs) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await Promise.all([...this.procs].map((p) => Promise.race([p.exited, sleep(2000)])));
    for (const ns of this.namespaces) await ip('netns', 'del', ns).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

const ROUTER_CONF = `router id 10.252.200.1;
log stderr all;
protocol device { scan time 10; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; multihop { interval 100 ms; multiplier 3; }; }
template bgp lbs { local as 65000; hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 5; graceful restart off; bfd on; }
# alpha: MD5 on the direct IPv4 session, IPv6 over link-local, multihop to the loopback.
protocol bgp alpha4 from lbs { neighbor 10.252.1.2 as 65010; password "${MD5}"; ipv4 { import all; export none; }; }
protocol bgp alpha6 from lbs { neighbor fe80::2 as 65010; interface "to-lb"; ipv6 { import all; export none; }; }
protocol bgp alphamh from lbs { local 10.252.200.1 as 65000; neighbor 10.252.1.4 as 65010; multihop 2; ipv4 { import all; export none; }; }
# beta: the second cluster on the same LB host, from its own address.
protocol bgp beta4 from lbs { neighbor 10.252.1.3 as 65010; ipv4 { import all; export none; }; }
`;

function alphaSpec(dir: string, overrides: { password?: string; runDirectory?: string } = {}): string {
  return `cluster: { name: alpha }
endpoint: api.alpha.test
controlPlane:
  - { name: cp-01, address: 10.252.5.21 }
listeners:
  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }
healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, healthyThreshold: 1, unhealthyThreshold: 2 }
deregistrationDelay: 1s
balancer: { bind: "::", admin: 127.0.0.1:8404, watch: false }
bgp:
  localAsn: 65010
  addresses: [10.252.100.1, "fd00:252:100::1"]
  withdrawDelay: 500ms
  runDirectory: ${overrides.runDirectory ?? join(dir, 'alpha', 'run')}
  peers:
    - { name: r-v4, address: 10.252.1.1, asn: 65000, passwordFile: ${join(dir, overrides.password === undefined ? 'alpha.md5' : 'wrong.md5')}, sourceAddress: 10.252.1.2 }
    - { name: r-v6, address: "fe80::1%eth0", asn: 65000 }
    - { name: r-loop, address: 10.252.200.1, asn: 65000, multihop: 2, sourceAddress: 10.252.1.4, bfdInterval: 250ms, bfdMultiplier: 4 }
`;
}

function betaSpec(dir: string, overrides: { runDirectory?: string; sourceAddress?: string | null; admin?: string; endpoint?: string } = {}): string {
  const source = overrides.sourceAddress === null ? '' : `, sourceAddress: ${overrides.sourceAddress ?? '10.252.1.3'}`;
  const endpoint = overrides.endpoint ?? '10.252.100.2';
  return `cluster: { name: beta }
endpoint: ${endpoint}
controlPlane:
  - { name: cp-01, address: 10.252.5.21 }
listeners:
  - { name: kubernetes, port: 7443, targetPort: 7443, targets: controlPlane }
healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, healthyThreshold: 1, unhealthyThreshold: 2 }
deregistrationDelay: 1s
balancer: { bind: ${endpoint}, admin: ${overrides.admin ?? '127.0.0.1:8405'}, watch: false }
bgp:
  localAsn: 65010
  withdrawDelay: 500ms
  runDirectory: ${overrides.runDirectory ?? join(dir, 'beta', 'run')}
  peers:
    - { name: r, address: 10.252.1.1, asn: 65000${source} }
`;
}

let alpha: NsProc | undefined;

async function startAlpha(l: Lab): Promise<NsProc> {
  if (alpha && alpha.child.exitCode === null && alpha.child.signalCode === null) return alpha;
  await writeFile(join(l.dir, 'alpha.md5'), `${MD5}\n`, { mode: 0o600 });
  alpha = await l.serve('alpha', alphaSpec(l.dir));
  await l.waitForSessions(['alpha4', 'alpha6', 'alphamh']);
  return alpha;
}

test('BGP sessions: MD5 from a file, a link-local IPv6 router, multihop from a source address with its own BFD timers, and a dual-stack endpoint', { timeout: 90_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const l = lab!;
  await startAlpha(l);
  // Both addresses routed to the LB host: IPv4 over the MD5 and multihop sessions, IPv6 over the link-local one.
  // IPv4 over the direct and the multihop session, IPv6 over the link-local one.
  await l.waitForRoute('10.252.100.1/32', true);
  await l.waitForRoute('fd00:252:100::1/128', ['fe80::2']);
  for (const [protocol, prefix] of [['alpha4', '10.252.100.1/32'], ['alphamh', '10.252.100.1/32'], ['alpha6', 'fd00:252:100::1/128']]) {
    let routes = '';
    for (let i = 0; i < 50 && !routes.includes(prefix); i++) {
      routes = await l.birdc(`show route protocol ${protocol}`);
      if (!routes.includes(prefix)) await sleep(100);
    }
    assert.ok(routes.includes(prefix), `the router learns ${prefix} from ${protocol}: ${routes}`);
  }
  assert.match(await l.fetch('10.252.100.1', 6443), /^cp-01 6443$/);
  const v6 = await l.fetch('fd00:252:100::1', 6443);
  assert.match(v6, /^cp-01 6443$/, `${v6}\n${await ip('-6', '-n', l.ns('r'), 'route')}\n${await l.birdc('show route all')}`);
  // The router requires MD5 from 10.252.1.2: a connection without the signature gets no answer at all.
  const unsigned = await run('ip', ['netns', 'exec', l.ns('lb'), process.execPath, '-e', "const s = require('net').connect({ host: '10.252.1.1', port: 179, localAddress: '10.252.1.2' }); s.on('connect', () => { console.log('connected'); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(0); }); setTimeout(() => { console.log('no answer'); process.exit(0); }, 1500);"]);
  assert.equal(unsigned.stdout.trim(), 'no answer', 'TCP MD5 is enforced by the router, so the established session carries the password');
  // Per-peer BFD: the multihop session runs at max(250 ms ours, 100 ms the router's) = 0.250 s, the others at 0.100 s.
  const bfd = await l.birdc('show bfd sessions');
  assert.match(bfd, /10\.252\.1\.4\s+\S+\s+Up\s+\S+\s+0\.250\s+1\.000/, bfd);
  assert.match(bfd, /10\.252\.1\.2\s+\S+\s+Up\s+\S+\s+0\.100\s+0\.300/, bfd);
  assert.match(bfd, /fe80::2\s+\S+\s+Up\s+\S+\s+0\.100\s+0\.300/, bfd);
  const status = await l.status('127.0.0.1:8404');
  assert.deepEqual(status.bgp.prefixes, ['10.252.100.1/32', 'fd00:252:100::1/128']);
  for (let i = 0; i < 30 && !(await l.status('127.0.0.1:8404')).bgp.peers.every((p: any) => p.routeAnnounced); i++) await sleep(100);
  const peers = (await l.status('127.0.0.1:8404')).bgp.peers as Array<Record<string, unknown>>;
  assert.deepEqual(peers.map((p) => [p.name, p.state, p.bfd, p.routeAnnounced, p.prefix]), [
    ['r-v4', 'established', 'up', true, '10.252.100.1/32'],
    ['r-v6', 'established', 'up', true, 'fd00:252:100::1/128'],
    ['r-loop', 'established', 'up', true, '10.252.100.1/32'],
  ]);
});

function textOf(proc: NsProc): string {
  return proc.lines.map((l) => l.text).join('\n');
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('two serves on one host: a second serve on the same run directory is refused while the first runs, and the first is untouched', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const l = lab!;
  const first = await startAlpha(l);
  const birdPid = Number((await run('cat', [join(l.dir, 'alpha', 'run', 'bird.pid')])).stdout.trim());
  const second = await l.serve('gamma', betaSpec(l.dir, { runDirectory: join(l.dir, 'alpha', 'run'), admin: '127.0.0.1:8407', endpoint: '10.252.100.3', sourceAddress: '10.252.1.3' }));
  assert.equal(await second.exited, 2);
  const text = textOf(second);
  assert.match(text, new RegExp(`bgp\\.runDirectory ${join(l.dir, 'alpha', 'run').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use by serve pid ${first.child.pid} \\(${join(l.dir, 'alpha', 'endpoint.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
  assert.match(text, /its own bgp\.runDirectory/);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  assert.ok(alive(birdPid), 'the first serve\'s BIRD is left running');
  assert.equal((await l.routerSessions()).alpha4, 'Established');
  assert.ok((await l.routeVia('10.252.100.1/32')).length > 0, 'the first serve still announces');
  const onLo = await run('ip', ['-n', l.ns('lb'), '-j', 'addr', 'show', 'dev', 'lo']);
  assert.doesNotMatch(onLo.stdout, /10\.252\.100\.3/, 'the refused serve leaves no address behind');
});

test('two serves on one host: two clusters, each with its own run directory and source address, announced side by side', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const l = lab!;
  await startAlpha(l);
  const beta = await l.serve('beta', betaSpec(l.dir));
  try {
    await l.waitForSessions(['alpha4', 'alpha6', 'alphamh', 'beta4']);
    await l.waitForRoute('10.252.100.2/32', true);
    assert.equal(await l.fetch('10.252.100.2', 7443), 'cp-01 7443', l.logs());
    assert.equal(await l.fetch('10.252.100.1', 6443), 'cp-01 6443', l.logs());
    // Two speakers' BFD on one host: each listens on its own addresses, so neither takes the other's packets.
    await sleep(1000);
    assert.deepEqual(await l.routerSessions(), { alpha4: 'Established', alpha6: 'Established', alphamh: 'Established', beta4: 'Established' }, l.logs());
    const bfd = await l.birdc('show bfd sessions');
    for (const address of ['10.252.1.2', '10.252.1.3', '10.252.1.4', 'fe80::2']) assert.match(bfd, new RegExp(`${address}\\s+\\S+\\s+Up`), bfd);
    // A third serve whose sessions have no source address needs BIRD on every address's port 179, which the
    // others hold: refused at start with the reason, instead of running without a session.
    const third = await l.serve('delta', betaSpec(l.dir, { runDirectory: join(l.dir, 'delta', 'run'), admin: '127.0.0.1:8408', endpoint: '10.252.100.4', sourceAddress: null }));
    assert.equal(await third.exited, 2);
    assert.match(textOf(third), /BIRD cannot listen for the sessions with r: the BGP port on this host is taken by another speaker/);
    assert.match(textOf(third), /its own sessions' sourceAddress/);
    assert.equal((await l.routerSessions()).beta4, 'Established', 'the others are untouched');
  } finally {
    await l.stop(beta);
  }
  await l.waitForRoute('10.252.100.2/32', false);
  assert.ok((await l.routeVia('10.252.100.1/32')).length > 0, 'stopping one cluster leaves the other announced');
});

test('a killed serve leaves no lock behind: the next serve takes the run directory at once', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const l = lab!;
  const first = await startAlpha(l);
  first.child.kill('SIGKILL');
  await first.exited;
  await l.waitForRoute('10.252.100.1/32', false, 15_000);
  const next = await startAlpha(l);
  assert.notEqual(next, first);
  await l.waitForRoute('10.252.100.1/32', true);
  assert.ok(!next.lines.some((line) => /in use by/.test(line.text)));
});

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
}

/** Deletes namespaces of earlier runs whose process is gone. */
async function removeStale(): Promise<void> {
  const all = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  for (const ns of all) {
    const match = new RegExp(`^${NS_PREFIX}-(\\d+)x`).exec(ns);
    if (!match) continue;
    try { process.kill(Number(match[1]), 0); } catch { await ip('netns', 'del', ns).catch(() => undefined); }
  }
}
