// A throwaway L2 segment made of network namespaces: one bridge namespace and one namespace per host, each host
// with a veth named eth0 on the bridge. Private subnet 10.252.<random>.0/24, no default route, unique names,
// and cleanup() deletes everything (processes we started first, by PID).
import { execFile, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { spawnInNamespace } from '../../helpers/proc.js';

const run = promisify(execFile);

export const NS_PREFIX = 'cevip';

export interface Host {
  name: string;
  ns: string;
  address: string;
  /** Bridge-side end of the host's veth (set it down to cut the host's link). */
  bridgePort: string;
  mac: string;
}

export interface Proc {
  child: ChildProcess;
  name: string;
  /** Every stderr/stdout line, JSON-parsed when it is JSON (pino logs are). */
  lines: { at: number; text: string; json?: Record<string, unknown> }[];
  exited: Promise<number | null>;
  /** Leads its own process group (spawned with group: true). */
  group: boolean;
  waitForLine(predicate: (line: { text: string; json?: Record<string, unknown> }) => boolean, timeoutMs?: number): Promise<{ at: number; text: string; json?: Record<string, unknown> }>;
}

export async function canUseNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await run('ip', ['netns', 'list']);
    return true;
  } catch {
    return false;
  }
}

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

export async function nsExec(ns: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('ip', ['netns', 'exec', ns, ...args]);
}

export class Topology {
  readonly id: string;
  readonly subnet: string;
  readonly bridgeNs: string;
  readonly hosts = new Map<string, Host>();
  readonly #procs = new Set<Proc>();

  private constructor(id: string, subnet: string) {
    this.id = id;
    this.subnet = subnet;
    this.bridgeNs = `${NS_PREFIX}-${id}-br`;
  }

  /** hosts: name → last octet of its address. */
  static async create(hosts: Record<string, number>): Promise<Topology> {
    await removeStale();
    const id = `${process.pid}x${randomInt(36 ** 3).toString(36)}`;
    const topology = new Topology(id, `10.252.${randomInt(1, 254)}`);
    try {
      await ip('netns', 'add', topology.bridgeNs);
      await ip('-n', topology.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
      await ip('-n', topology.bridgeNs, 'link', 'set', 'br0', 'up');
      let index = 0;
      for (const [name, octet] of Object.entries(hosts)) {
        const ns = `${NS_PREFIX}-${id}-${name}`;
        const veth = `cv${randomInt(36 ** 5).toString(36)}${index++}`;
        await ip('netns', 'add', ns);
        await ip('link', 'add', `${veth}h`, 'type', 'veth', 'peer', 'name', `${veth}b`);
        await ip('link', 'set', `${veth}h`, 'netns', ns);
        await ip('link', 'set', `${veth}b`, 'netns', topology.bridgeNs);
        await ip('-n', topology.bridgeNs, 'link', 'set', `${veth}b`, 'master', 'br0', 'up');
        await ip('-n', ns, 'link', 'set', `${veth}h`, 'name', 'eth0');
        const address = `${topology.subnet}.${octet}`;
        await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        await ip('-n', ns, 'link', 'set', 'eth0', 'up');
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        const link = JSON.parse(await ip('-j', '-n', ns, 'link', 'show', 'dev', 'eth0')) as { address: string }[];
        topology.hosts.set(name, { name, ns, address, bridgePort: `${veth}b`, mac: link[0].address });
      }
      return topology;
    } catch (error) {
      await topology.cleanup();
      throw error;
    }
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  address(octet: number): string {
    return `${this.subnet}.${octet}`;
  }

  /** Starts a process inside a host's namespace (`ip netns exec` execs it, so the PID is the process itself). */
  spawn(host: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}): Proc {
    // group: the process leads its own process group, so killGroup() takes its children down with it.
    const proc: Proc = { ...spawnInNamespace(this.host(host).ns, args, host, { env: options.env, cwd: options.cwd, detached: options.group ?? false }), name: host, group: options.group ?? false };
    this.#procs.add(proc);
    void proc.exited.then(() => this.#procs.delete(proc));
    return proc;
  }

  async exec(host: string, args: string[]): Promise<string> {
    return (await nsExec(this.host(host).ns, args)).stdout;
  }

  /** The MAC the host's neighbour table has for address, if any. */
  async neighbourMac(host: string, address: string): Promise<string | undefined> {
    const entries = JSON.parse(await ip('-j', '-n', this.host(host).ns, 'neigh', 'show', 'to', address)) as { lladdr?: string }[];
    return entries[0]?.lladdr;
  }

  /** Polls the host's neighbour entry for address until it carries `mac` or timeoutMs pass; returns the last MAC seen. */
  async waitForNeighbourMac(host: string, address: string, mac: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    let seen = await this.neighbourMac(host, address);
    while (seen !== mac && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      seen = await this.neighbourMac(host, address);
    }
    return seen;
  }

  /** Names of hosts whose eth0 carries address. */
  async holdersOf(address: string, candidates: string[]): Promise<string[]> {
    const result: string[] = [];
    for (const name of candidates) {
      const links = JSON.parse(await ip('-j', '-n', this.host(name).ns, 'addr', 'show', 'dev', 'eth0')) as { addr_info: { local: string }[] }[];
      if (links[0]?.addr_info.some((a) => a.local === address)) result.push(name);
    }
    return result;
  }

  async kill(proc: Proc, signal: NodeJS.Signals): Promise<void> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  }

  /** Signals the process and every child in its group at once (a crash of the whole daemon). */
  killGroup(proc: Proc, signal: NodeJS.Signals): void {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null || !proc.child.pid) return;
    // Never a negative PID for a process without its own group: that group is ours.
    if (!proc.group) { proc.child.kill(signal); return; }
    try { process.kill(-proc.child.pid, signal); } catch { proc.child.kill(signal); }
  }

  async cleanup(): Promise<void> {
    for (const proc of this.#procs) this.killGroup(proc, 'SIGKILL');
    await Promise.all([...this.#procs].map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
    for (const host of this.hosts.values()) await ip('netns', 'del', host.ns).catch(() => undefined);
    const all = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]);
    for (const ns of all) if (ns.startsWith(`${NS_PREFIX}-${this.id}-`)) await ip('netns', 'del', ns).catch(() => undefined);
  }
}

/** Deletes namespaces of earlier runs whose process is gone (a crashed run cannot clean up after itself). */
async function removeStale(): Promise<void> {
  const all = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  for (const ns of all) {
    const match = new RegExp(`^${NS_PREFIX}-(\\d+)x`).exec(ns);
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (!alive) await ip('netns', 'del', ns).catch(() => undefined);
  }
}
