// The routed test bed for BGP: a router namespace running BIRD with ECMP (merge paths, a 5-tuple multipath hash),
// two LB hosts on subnets of their own running the real `serve`, three control-plane stand-ins on a bridge
// behind the router, and a client behind the router. 10.251.0.0/16 lives only inside these namespaces; no host
// has a default route. Used by test/integration/bgp and bench/bgp-failover.ts.
//
//   client 10.251.9.2 ── r (10.251.9.1, 10.251.1.1, 10.251.2.1, br0 10.251.5.1) ── cp-01..03 10.251.5.21-23
//                          │ 10.251.1.2 lb-01        │ 10.251.2.2 lb-02     (endpoint 10.251.100.1 on lo of each)
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnInNamespace, type NsProc } from '../../helpers/proc.js';

const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'src/cli/main.ts');
const PROBER = fileURLToPath(new URL('./prober.ts', import.meta.url));
export const NS_PREFIX = 'cebgp';
export const ENDPOINT = '10.251.100.1';
export const PORT = 6443;
export const ROUTER_ASN = 65000;
export const LB_ASN = 65010;
export const LBS = ['lb-01', 'lb-02'] as const;
export type Lb = typeof LBS[number];
const CPS = ['cp-01', 'cp-02', 'cp-03'] as const;
const NICE = '-10';

export type Proc = NsProc;
export interface Attempt { start: number; end: number; ok: boolean; reply?: string; error?: string; localPort?: number; /** When the connection was established (absent: it never was). */ connectedAt?: number }

export interface BedOptions {
  /** BFD on the router and in the LB hosts' spec. */
  bfd: boolean;
  /** BGP hold time in seconds (router and spec). Default 9. */
  holdS?: number;
  /** balancer.bind of the LB hosts: every address (default) or the endpoint itself. */
  bind?: 'any' | 'endpoint';
}

/** Per-start changes to an LB host's spec. */
export interface Overrides {
  peerAsn?: number;
  bind?: 'any' | 'endpoint';
  env?: NodeJS.ProcessEnv;
  /** balancer.mode: kernel (the source translated: the control plane answers through the router, not the LB host). */
  kernel?: boolean;
}

export async function canUseNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try { await run('ip', ['netns', 'list']); return true; } catch { return false; }
}

export async function hasBird(): Promise<boolean> {
  try { await run('bird', ['--version']); return true; } catch { return false; }
}

export class BgpBed {
  readonly id = `${process.pid}x${randomInt(36 ** 3).toString(36)}`;
  readonly dir: string;
  readonly options: Required<BedOptions>;
  readonly serves = new Map<Lb, Proc>();
  /** The control-plane stand-ins' processes (kill one to fail a node). */
  readonly controlPlane = new Map<string, Proc>();
  router: Proc | undefined;
  readonly #procs = new Set<Proc>();
  readonly #namespaces: string[] = [];

  private constructor(dir: string, options: BedOptions) {
    this.dir = dir;
    this.options = { holdS: 9, bind: 'any', ...options };
  }

  static async create(options: BedOptions): Promise<BgpBed> {
    await removeStale();
    const bed = new BgpBed(await mkdtemp(join(tmpdir(), 'cebgp-')), options);
    try {
      await bed.#build();
      return bed;
    } catch (error) {
      await bed.cleanup();
      throw error;
    }
  }

  ns(host: string): string { return `${NS_PREFIX}-${this.id}-${host}`; }

  /** The address an LB host connects to the control plane from (what the stand-ins report). */
  static lbAddress(lb: Lb): string { return `10.251.${LBS.indexOf(lb) + 1}.2`; }

  async #build(): Promise<void> {
    const r = this.ns('r');
    for (const host of ['r', 'client', ...LBS, ...CPS]) {
      await ip('netns', 'add', this.ns(host));
      this.#namespaces.push(this.ns(host));
      await ip('-n', this.ns(host), 'link', 'set', 'lo', 'up');
    }
    await sysctl(r, 'net.ipv4.ip_forward', '1');
    // Hash on addresses and ports. Policy 1 would reuse the hash the client's socket put on the packet (random
    // per socket, kept across veth), which a real router never sees; policy 3 with these fields hashes headers.
    await sysctl(r, 'net.ipv4.fib_multipath_hash_policy', '3');
    await sysctl(r, 'net.ipv4.fib_multipath_hash_fields', '0x0037');
    const link = async (host: string, subnet: string) => {
      const veth = `cb${randomInt(36 ** 5).toString(36)}`;
      await ip('link', 'add', `${veth}r`, 'type', 'veth', 'peer', 'name', `${veth}h`);
      await ip('link', 'set', `${veth}r`, 'netns', r);
      await ip('link', 'set', `${veth}h`, 'netns', this.ns(host));
      await ip('-n', r, 'link', 'set', `${veth}r`, 'name', `to-${host}`);
      await ip('-n', this.ns(host), 'link', 'set', `${veth}h`, 'name', 'eth0');
      await ip('-n', r, 'link', 'set', `to-${host}`, 'up');
      await ip('-n', this.ns(host), 'link', 'set', 'eth0', 'up');
      if (subnet) {
        await ip('-n', r, 'addr', 'add', `${subnet}.1/24`, 'dev', `to-${host}`);
        await ip('-n', this.ns(host), 'addr', 'add', `${subnet}.2/24`, 'dev', 'eth0');
        await ip('-n', this.ns(host), 'route', 'add', '10.251.0.0/16', 'via', `${subnet}.1`);
      }
    };
    await link('client', '10.251.9');
    for (const lb of LBS) await link(lb, `10.251.${LBS.indexOf(lb) + 1}`);
    await ip('-n', r, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', r, 'addr', 'add', '10.251.5.1/24', 'dev', 'br0');
    await ip('-n', r, 'link', 'set', 'br0', 'up');
    for (const cp of CPS) {
      await link(cp, '');
      await ip('-n', r, 'link', 'set', `to-${cp}`, 'master', 'br0');
      await ip('-n', this.ns(cp), 'addr', 'add', `10.251.5.${21 + CPS.indexOf(cp)}/24`, 'dev', 'eth0');
      await ip('-n', this.ns(cp), 'route', 'add', '10.251.0.0/16', 'via', '10.251.5.1');
      await this.startControlPlane(cp);
    }
    await this.startRouter();
  }

  /** A stand-in apiserver: answers "<name> <the LB host's address>" (who carried the connection). */
  async startControlPlane(cp: string): Promise<void> {
    const code = `require('net').createServer((s) => { s.on('error', () => {}); s.end(${JSON.stringify(cp)} + ' ' + s.remoteAddress.replace('::ffff:', '') + '\\n'); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'));`;
    const proc = this.spawn(cp, [process.execPath, '-e', code]);
    this.controlPlane.set(cp, proc);
    await proc.waitForLine((l) => l.text === 'listening');
  }

  routerConfig(): string {
    const { bfd, holdS } = this.options;
    return [
      'router id 10.251.9.1;',
      'log stderr all;',
      'protocol device { scan time 10; }',
      // merge paths: one kernel route with a next hop per LB host (ECMP).
      'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
      ...(bfd ? ['protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; }'] : []),
      `template bgp lbs { local as ${ROUTER_ASN}; hold time ${holdS}; keepalive time ${Math.max(1, Math.floor(holdS / 3))}; connect delay time 1; connect retry time 2; error wait time 1, 5; graceful restart off;${bfd ? ' bfd on;' : ''} ipv4 { import all; export none; }; }`,
      ...LBS.map((lb) => `protocol bgp ${lb.replace('-', '_')} from lbs { neighbor ${BgpBed.lbAddress(lb)} as ${LB_ASN}; }`),
      '',
    ].join('\n');
  }

  async startRouter(): Promise<void> {
    const conf = join(this.dir, 'router.conf');
    await writeFile(conf, this.routerConfig());
    this.router = this.spawn('r', ['nice', '-n', NICE, 'bird', '-f', '-c', conf, '-s', join(this.dir, 'router.ctl'), '-P', join(this.dir, 'router.pid')]);
    await this.router.waitForLine((l) => /Started|BIRD .* ready/.test(l.text), 10_000);
  }

  specText(lb: Lb, overrides: Overrides = {}): string {
    const { bfd, holdS } = this.options;
    const bind = overrides.bind ?? this.options.bind;
    return [
      'cluster: { name: bgp-test }',
      `endpoint: "${ENDPOINT}"`,
      'controlPlane:',
      ...CPS.map((cp, i) => `  - { name: ${cp}, address: "10.251.5.${21 + i}" }`),
      'listeners:',
      `  - { name: kubernetes, port: ${PORT}, targetPort: ${PORT}, targets: controlPlane }`,
      'healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, healthyThreshold: 1, unhealthyThreshold: 2 }',
      'deregistrationDelay: 2s',
      `balancer: { ${overrides.kernel ? 'mode: kernel, preserveClientIp: false, ' : ''}bind: "${bind === 'endpoint' ? ENDPOINT : '0.0.0.0'}", admin: 127.0.0.1:8404, watch: false }`,
      'bgp:',
      `  localAsn: ${LB_ASN}`,
      `  bfd: ${bfd}`,
      `  holdTime: ${holdS}s`,
      '  withdrawDelay: 1s',
      `  runDirectory: ${join(this.dir, lb, 'run')}`,
      '  peers:',
      `    - { name: tor, address: "10.251.${LBS.indexOf(lb) + 1}.1", asn: ${overrides.peerAsn ?? ROUTER_ASN} }`,
      '',
    ].join('\n');
  }

  /** Starts the real `serve` on an LB host with its own spec (specText). */
  async startServe(lb: Lb, overrides: Overrides = {}): Promise<Proc> {
    await mkdir(join(this.dir, lb), { recursive: true });
    const spec = join(this.dir, lb, 'endpoint.yaml');
    await writeFile(spec, this.specText(lb, overrides));
    if (overrides.kernel) await sysctl(this.ns(lb), 'net.ipv4.ip_forward', '1');
    return this.startServeWith(lb, spec, [], overrides.env);
  }

  /**
   * Starts the real `serve` on an LB host with a spec file (e.g. one for the fleet) and further arguments. With
   * `privateRun`, that directory is a tmpfs of this host's own (a mount namespace), as /run is on a real host.
   */
  startServeWith(lb: Lb, spec: string, args: string[], env: NodeJS.ProcessEnv = {}, privateRun?: string): Proc {
    const serve = ['nice', '-n', NICE, process.execPath, '--import', 'tsx', CLI, 'serve', '-c', spec, ...args];
    const command = privateRun ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mkdir -p "$0" && mount -t tmpfs tmpfs "$0" && exec "$@"', privateRun, ...serve] : serve;
    const proc = this.spawn(lb, command, { CLUSTER_ENDPOINT_LOG_LEVEL: 'info', ...env });
    this.serves.set(lb, proc);
    return proc;
  }

  /** One spec for both LB hosts: each host's router id and its own ToR in bgp.hosts (the hosts are on subnets of their own). */
  fleetSpecText(): string {
    const own = this.specText('lb-01').split('\n').filter((line) => !/^ {2}(peers:|runDirectory:)|^ {4}- \{ name: tor/.test(line)).join('\n');
    return `${own.trimEnd()}
  runDirectory: ${join(this.dir, 'fleet-run')}
  hosts:
${LBS.map((lb) => `    - name: ${lb}
      routerId: ${BgpBed.lbAddress(lb)}
      peers:
        - { name: tor, address: "10.251.${LBS.indexOf(lb) + 1}.1", asn: ${ROUTER_ASN} }`).join('\n')}
`;
  }

  /** Next hops (LB host addresses) of the router's route to the endpoint. */
  async nextHops(): Promise<string[]> {
    const routes = JSON.parse(await ip('-j', '-n', this.ns('r'), 'route', 'show', `${ENDPOINT}/32`)) as { gateway?: string; nexthops?: { gateway: string }[] }[];
    const route = routes[0];
    if (!route) return [];
    return route.nexthops ? route.nexthops.map((n) => n.gateway).sort() : route.gateway ? [route.gateway] : [];
  }

  async waitForNextHops(lbs: readonly Lb[], timeoutMs = 20_000): Promise<void> {
    const want = lbs.map((lb) => BgpBed.lbAddress(lb)).sort().join(',');
    const deadline = Date.now() + timeoutMs;
    let seen = '';
    while (Date.now() < deadline) {
      seen = (await this.nextHops()).join(',');
      if (seen === want) return;
      await sleep(50);
    }
    const logs = [...this.serves].map(([lb, proc]) => `${lb}:\n  ${proc.lines.slice(-8).map((l) => String(l.json?.msg ?? l.text)).join('\n  ')}`).join('\n');
    throw new Error(`the router's route to ${ENDPOINT} has next hops [${seen}], expected [${want}] within ${timeoutMs} ms\n${logs}`);
  }

  /** /api/status of an LB host's serve. */
  async status(lb: Lb): Promise<Record<string, any>> {
    const { stdout } = await run('ip', ['netns', 'exec', this.ns(lb), 'curl', '-sf', '--max-time', '2', 'http://127.0.0.1:8404/api/status']);
    return JSON.parse(stdout) as Record<string, any>;
  }

  async metrics(lb: Lb): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.ns(lb), 'curl', '-sf', '--max-time', '2', 'http://127.0.0.1:8404/metrics'])).stdout;
  }

  /** A prober in the client namespace (see prober.ts). */
  async prober(intervalMs: number, durationMs: number, timeoutMs: number, ports: number[] = []): Promise<{ attempts: () => Attempt[]; done: Promise<Attempt[]>; stop: () => Promise<Attempt[]> }> {
    const proc = this.spawn('client', ['nice', '-n', NICE, process.execPath, '--import', 'tsx', PROBER, ENDPOINT, String(PORT), String(intervalMs), String(durationMs), String(timeoutMs), ...(ports.length ? [ports.join(',')] : [])]);
    await proc.waitForLine((l) => l.json?.ready === true, 20_000);
    const attempts = () => proc.lines.flatMap((l) => (l.json && 'start' in l.json ? [l.json as unknown as Attempt] : []));
    const done = proc.exited.then(attempts);
    return { attempts, done, stop: async () => { proc.child.stdin?.end(); await Promise.race([proc.exited, sleep(3000)]); return attempts(); } };
  }

  /** Local ports of the client whose flows the router sends to `lb` (measured: one attempt per port). */
  async portsOf(lb: Lb, count: number, from = 20_000): Promise<number[]> {
    const candidates = Array.from({ length: count * 4 }, (_, i) => from + i);
    const probe = await this.prober(5, candidates.length * 5, 1000, candidates);
    const attempts = await probe.done;
    const mine = attempts.filter((a) => a.ok && a.reply?.endsWith(` ${BgpBed.lbAddress(lb)}`)).map((a) => a.localPort!);
    return mine.slice(0, count);
  }

  async exec(host: string, args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.ns(host), ...args])).stdout;
  }

  /** A silent link failure: every packet in or out of the LB host's uplink is dropped (no carrier loss, no FIN). */
  async cut(lb: Lb): Promise<void> {
    await nft(this.ns(lb), 'add table inet cebgp_cut { chain in { type filter hook input priority -300; iifname "eth0" drop; }; chain out { type filter hook output priority -300; oifname "eth0" drop; }; }');
  }

  async uncut(lb: Lb): Promise<void> {
    await nft(this.ns(lb), 'delete table inet cebgp_cut');
  }

  /** The LB host can no longer reach any control-plane node (its health checks fail; BGP stays up). */
  async isolate(lb: Lb): Promise<void> {
    await nft(this.ns(lb), 'add table inet cebgp_cp { chain out { type filter hook output priority -300; ip daddr 10.251.5.0/24 drop; }; }');
  }

  async unisolate(lb: Lb): Promise<void> {
    await nft(this.ns(lb), 'delete table inet cebgp_cp');
  }

  spawn(host: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const proc = spawnInNamespace(this.ns(host), args, host, { env, cwd: ROOT });
    this.#procs.add(proc);
    void proc.exited.then(() => this.#procs.delete(proc));
    return proc;
  }

  async cleanup(): Promise<void> {
    for (const proc of this.#procs) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await Promise.all([...this.#procs].map((p) => Promise.race([p.exited, sleep(2000)])));
    for (const ns of this.#namespaces) await ip('netns', 'del', ns).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The cut-off new connections saw from `at`: until the start of the last failed attempt (0 when none failed),
 * and the failures. Attempts are started every few ms whatever happens to the others, so a dead path does not
 * slow the measurement of the live one.
 */
export function cutOff(attempts: Attempt[], at: number): { cutOffMs: number; failures: number; attempts: number } {
  const after = attempts.filter((a) => a.start >= at);
  const failed = after.filter((a) => !a.ok);
  return { cutOffMs: failed.length ? failed[failed.length - 1].start - at : 0, failures: failed.length, attempts: after.length };
}

/** Which LB hosts carried the successful attempts, by address. */
export function carriers(attempts: Attempt[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of attempts) {
    if (!a.ok || !a.reply) continue;
    const lb = a.reply.split(' ')[1];
    out.set(lb, (out.get(lb) ?? 0) + 1);
  }
  return out;
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
}

async function nft(ns: string, script: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'nft', script]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
