// The VIP test bed: LB hosts running the VIP (real `serve`, or the VipManager harness), three control-plane
// stand-ins answering their name, and a client with a continuous prober — every one in its own namespace on
// one bridge. Used by the integration tests and by bench/vip-failover.ts.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Topology, type Proc } from './topology.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'src/cli/main.ts');
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const KEY = 'integration-test-vip-key';
export const LISTENER_PORT = 6443;
/** The rendered systemd unit's Nice= (src/render/builtin). */
export const PEER_NICE = -10;

/** serve: the real CLI; harness: VipManager alone; keepalived: HAProxy + Keepalived from our renderers (bench). */
export type PeerMode = 'serve' | 'harness' | 'keepalived';

/** Real `serve` once the daemon runs the VIP manager; the harness before that (or when VIP_E2E_MODE=harness). */
export function peerMode(): PeerMode {
  const forced = process.env.VIP_E2E_MODE;
  if (forced === 'serve' || forced === 'harness') return forced;
  const serve = join(ROOT, 'src/cli/commands/serve.ts');
  const wired = existsSync(serve) && /vipFactory/.test(readFileSync(serve, 'utf8'));
  return wired ? 'serve' : 'harness';
}

export interface ScenarioOptions {
  lbCount?: number;
  advertIntervalMs?: number;
  mode?: PeerMode;
  preempt?: boolean;
  /** 6: every host also gets fd00:ce:<subnet>::<octet>/64, and the VIP, peers and servers use those. */
  family?: 4 | 6;
}

export interface Attempt { start: number; end: number; ok: boolean; reply?: string; error?: string }

export class Scenario {
  readonly lbs: string[];
  readonly vip: string;
  readonly specPath: string;
  readonly peers = new Map<string, Proc>();
  /** keepalived mode: the HAProxy next to each Keepalived. */
  readonly haproxies = new Map<string, Proc>();
  readonly mode: PeerMode;
  readonly advertIntervalMs: number;
  readonly family: 4 | 6;

  private constructor(readonly topology: Topology, readonly dir: string, lbs: string[], options: Required<ScenarioOptions>) {
    this.lbs = lbs;
    this.family = options.family;
    this.vip = this.#address(100);
    this.specPath = join(dir, 'endpoint.yaml');
    this.mode = options.mode;
    this.advertIntervalMs = options.advertIntervalMs;
  }

  static async create(options: ScenarioOptions = {}): Promise<Scenario> {
    const full: Required<ScenarioOptions> = { lbCount: 2, advertIntervalMs: 100, mode: peerMode(), preempt: true, family: 4, ...options };
    if (full.family === 6 && full.mode === 'keepalived') throw new Error('the keepalived scenario is IPv4 only');
    const lbs = Array.from({ length: full.lbCount }, (_, i) => `lb-0${i + 1}`);
    const hosts: Record<string, number> = { client: 50, 'cp-01': 21, 'cp-02': 22, 'cp-03': 23 };
    lbs.forEach((name, i) => { hosts[name] = 11 + i; });
    const topology = await Topology.withHosts(hosts);
    const dir = await mkdtemp(join(tmpdir(), 'cevip-'));
    const scenario = new Scenario(topology, dir, lbs, full);
    try {
      if (full.family === 6) {
        for (const [name, octet] of Object.entries(hosts)) await topology.exec(name, ['ip', 'addr', 'add', `${scenario.#address(octet)}/64`, 'dev', 'eth0', 'nodad']);
      }
      await writeFile(scenario.specPath, scenario.specText(full));
      if (full.mode === 'keepalived') await scenario.#renderKeepalived(full);
      await Promise.all(['cp-01', 'cp-02', 'cp-03'].map((cp) => scenario.startControlPlane(cp)));
      return scenario;
    } catch (error) {
      await scenario.cleanup();
      throw error;
    }
  }

  /** The address of the host with this last octet (or group, for IPv6) in the scenario's family. */
  #address(octet: number): string {
    return this.family === 6 ? `fd00:ce:${this.topology.subnet.split('.')[2]}::${octet}` : this.topology.address(octet);
  }

  /** A host's address in the scenario's family. */
  addressOf(name: string): string {
    const host = this.topology.host(name);
    return this.family === 6 ? this.#address(Number(host.address.split('.')[3])) : host.address;
  }

  specText(o: Required<ScenarioOptions>): string {
    return [
      'cluster: { name: vip-test }',
      `endpoint: "${this.vip}"`,
      'controlPlane:',
      ...['cp-01', 'cp-02', 'cp-03'].map((cp) => `  - { name: ${cp}, address: "${this.addressOf(cp)}" }`),
      'listeners:',
      `  - { name: kubernetes, port: ${LISTENER_PORT}, targetPort: ${LISTENER_PORT}, targets: controlPlane }`,
      'healthCheck: { type: tcp, interval: 100ms, timeout: 50ms, healthyThreshold: 1, unhealthyThreshold: 2 }',
      'deregistrationDelay: 1s',
      `balancer: { bind: "${this.family === 6 ? '::' : '0.0.0.0'}", admin: 127.0.0.1:8404, watch: false }`,
      'vip:',
      `  address: "${this.vip}"`,
      `  prefixLength: ${this.family === 6 ? 64 : 24}`,
      '  interface: eth0',
      `  advertInterval: ${o.advertIntervalMs}ms`,
      `  preempt: ${o.preempt}`,
      `  authKey: ${KEY}`,
      '  peers:',
      ...this.lbs.map((lb, i) => `    - { name: ${lb}, address: "${this.addressOf(lb)}", priority: ${100 - 10 * i} }`),
      '',
    ].join('\n');
  }

  /** A control-plane stand-in: a TCP server on the listener port answering its name. */
  async startControlPlane(name: string): Promise<Proc> {
    const code = `require('net').createServer((s) => { s.on('error', () => {}); s.end(${JSON.stringify(`${name}\n`)}); }).listen(${LISTENER_PORT}, '${this.family === 6 ? '::' : '0.0.0.0'}', () => console.log('listening'));`;
    const proc = this.topology.spawn(name, [process.execPath, '-e', code]);
    await proc.waitForLine((l) => l.text === 'listening', 10_000);
    return proc;
  }

  /**
   * The guide's pair, written by our own renderers (`render keepalived`, `render haproxy`) from the same spec minus
   * authKey (VRRPv3, needed for a sub-second advert_int, has no authentication). HAProxy's global section loses
   * what would collide between namespaces sharing one filesystem (stats socket, chroot, user, syslog).
   */
  async #renderKeepalived(o: Required<ScenarioOptions>): Promise<void> {
    const { parseSpec } = await import('../../../src/spec/load.js');
    const { RENDERERS } = await import('../../../src/render/index.js');
    const text = this.specText(o).split('\n').filter((l) => !l.includes('authKey')).join('\n');
    const parsed = parseSpec(text, 'endpoint.yaml');
    if (!parsed.spec) throw new Error(`spec: ${JSON.stringify(parsed.problems)}`);
    const context = { version: 'bench', specName: 'endpoint.yaml' };
    for (const file of RENDERERS.keepalived.render(parsed.spec, context)) {
      await mkdir(join(this.dir, dirname(file.path)), { recursive: true });
      await writeFile(join(this.dir, file.path), file.contents);
    }
    for (const file of RENDERERS.haproxy.render(parsed.spec, context)) {
      const contents = file.contents.split('\n').filter((l) => !/^\s*(stats socket|chroot|user |group |log \/dev\/log)/.test(l)).join('\n');
      await writeFile(join(this.dir, 'haproxy.cfg'), contents);
    }
  }

  #startKeepalived(name: string): Proc {
    if (!this.haproxies.has(name)) {
      this.haproxies.set(name, this.topology.spawn(name, ['nice', '-n', String(PEER_NICE), 'haproxy', '-db', '-f', join(this.dir, 'haproxy.cfg')], { group: true }));
    }
    const run = join(this.dir, name);
    const args = ['nice', '-n', String(PEER_NICE), 'keepalived', '-n', '-l', '-D', '-G', '--vrrp', '-f', join(run, 'keepalived.conf'), '-p', join(run, 'keepalived.pid'), '-r', join(run, 'vrrp.pid')];
    const proc = this.topology.spawn(name, args, { group: true });
    this.peers.set(name, proc);
    return proc;
  }

  startPeer(name: string): Proc {
    if (this.mode === 'keepalived') return this.#startKeepalived(name);
    const args = this.mode === 'serve'
      ? [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', this.specPath, '--peer', name]
      : [process.execPath, '--import', 'tsx', join(HERE, 'harness.ts'), this.specPath, name];
    // Nice -10, as the rendered systemd unit runs serve (render builtin): on a busy host the VIP's timers and the
    // takeover's `ip`/`arping` must not queue behind other work.
    const proc = this.topology.spawn(name, ['nice', '-n', String(PEER_NICE), ...args], { cwd: ROOT, env: { CLUSTER_ENDPOINT_LOG_LEVEL: 'info' }, group: true });
    this.peers.set(name, proc);
    return proc;
  }

  /** Starts peers one after another (highest priority first) and waits until exactly one holds the VIP. */
  async startPeers(names: string[] = this.lbs): Promise<string> {
    for (const name of names) {
      const proc = this.startPeer(name);
      await proc.waitForLine((l) => (this.mode === 'keepalived' ? /Entering (BACKUP|MASTER|FAULT) STATE/.test(l.text) : l.json?.msg === 'vip manager started'), 20_000);
    }
    return this.waitForHolder(undefined, 10_000);
  }

  async holders(): Promise<string[]> {
    return this.topology.holdersOf(this.vip, this.lbs);
  }

  /** Waits until exactly one LB holds the VIP (other than `not`, when given) and returns its name. */
  async waitForHolder(not?: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const holders = await this.holders();
      if (holders.length === 1 && holders[0] !== not) return holders[0];
      if (Date.now() > deadline) throw new Error(`no single VIP holder${not ? ` other than ${not}` : ''} within ${timeoutMs} ms (holders: ${holders.join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits until an LB other than `dead` holds the VIP (a SIGKILLed holder keeps a stale copy) and returns it. */
  async waitForTakeover(dead: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const others = (await this.holders()).filter((h) => h !== dead);
      if (others.length === 1) return others[0];
      if (Date.now() > deadline) throw new Error(`no single VIP holder besides ${dead} within ${timeoutMs} ms (${others.join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Starts the continuous prober in the client namespace. */
  async startProber(intervalMs: number, durationMs: number, timeoutMs = 50): Promise<{ proc: Proc; attempts: () => Attempt[]; stop: () => Promise<void> }> {
    // The prober is the measuring instrument: it runs at the peers' priority so its own scheduling delays do not
    // show up as outages.
    const proc = this.topology.spawn('client', ['nice', '-n', String(PEER_NICE), process.execPath, '--import', 'tsx', join(HERE, 'prober.ts'), this.vip, String(LISTENER_PORT), String(intervalMs), String(durationMs), String(timeoutMs)], { cwd: ROOT });
    await proc.waitForLine((l) => l.json?.ready === true, 20_000);
    const attempts = () => proc.lines.flatMap((l) => (l.json && 'start' in l.json ? [l.json as unknown as Attempt] : []));
    const stop = async () => { proc.child.stdin?.end(); await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000))]); };
    return { proc, attempts, stop };
  }

  async cleanup(): Promise<void> {
    await this.topology.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Recovery after an event at `at`: until the end of the first successful connection that follows the last failed
 * one (attempts racing the event may still succeed before the failures start).
 */
export function recoveryMs(attempts: Attempt[], at: number): { recoveryMs: number; failures: number; maxGapMs: number } {
  const after = attempts.filter((a) => a.start >= at);
  const failed = after.filter((a) => !a.ok);
  const lastFailure = failed.at(-1);
  const back = lastFailure ? after.find((a) => a.ok && a.start > lastFailure.start) : after.find((a) => a.ok);
  return { recoveryMs: back ? (lastFailure ? back.end - at : 0) : Number.POSITIVE_INFINITY, failures: failed.length, maxGapMs: maxGap(attempts) };
}

/** Longest time between two consecutive successful connections (the cut-off a client saw). */
export function maxGap(attempts: Attempt[]): number {
  let previous: number | undefined;
  let gap = 0;
  for (const a of attempts) {
    if (!a.ok) continue;
    if (previous !== undefined) gap = Math.max(gap, a.end - previous);
    previous = a.end;
  }
  return gap;
}

/**
 * The cut-off a client saw from `at` on: the longest stretch from the last success before a run of failed
 * connections to the first success after it; 0 when no connection failed. (Stretches where the prober itself was
 * not scheduled, on a busy machine, are not outages and do not count.)
 */
export function cutOffMs(attempts: Attempt[], at: number): number {
  let lastOk: number | undefined;
  let failing = false;
  let worst = 0;
  for (const a of attempts) {
    if (a.ok) {
      if (failing && lastOk !== undefined) worst = Math.max(worst, a.end - lastOk);
      failing = false;
      lastOk = a.end;
    } else if (a.start >= at) {
      failing = true;
    }
  }
  return failing ? Number.POSITIVE_INFINITY : worst;
}

/** A compact timeline of the attempts around `at` ("+12:lb-02 +25:timeout …"), for failure messages. */
export function timeline(attempts: Attempt[], at: number, fromMs = -100, toMs = 800): string {
  return attempts
    .filter((a) => a.start - at >= fromMs && a.start - at <= toMs)
    .map((a) => `${a.start - at}${a.ok ? '' : `-${a.end - at}`}:${a.ok ? a.reply : a.error}`)
    .join(' ');
}
