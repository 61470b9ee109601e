// Throwaway networks made of network namespaces: segments (a bridge in a namespace of its own) and hosts (a
// namespace each) with one veth per link, named and addressed as the plan says — the addresses and interface
// names a user's files name, or a test's private subnet. Nothing is routed out: the lab has no link to the
// machine's own namespace. Unique names per run (prefix-<pid>x<random>-…); cleanup() kills the processes it
// started (by PID or process group), then deletes every namespace; namespaces of runs whose process is gone are
// removed at the next create (a crashed run cannot clean up after itself).
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { spawnInNamespace, type Line, type NsProc } from './process.js';

const run = promisify(execFile);

export type { Line };

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 30_000 });
  return stdout;
}

export async function nsExec(ns: string, args: string[], options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return run('ip', ['netns', 'exec', ns, ...args], { timeout: options.timeoutMs ?? 30_000, maxBuffer: 32 * 1024 * 1024 });
}

export interface Proc extends NsProc {
  name: string;
  /** Leads its own process group (spawned with group: true). */
  group: boolean;
}

/** One link of a host: a veth named `name` inside the host, plugged into `segment`, with these addresses. */
export interface LinkPlan {
  segment: string;
  name: string;
  /** Addresses with their prefix length ("192.168.30.31/24", "fd00::31/64"); IPv6 ones are added nodad. */
  addresses: string[];
}

export interface LabPlan {
  segments: string[];
  hosts: Array<{ name: string; links: LinkPlan[] }>;
}

export interface Interface {
  /** Name inside the host (eth0, ens18, …). */
  name: string;
  segment: string;
  /** The first IPv4 address on the link (without prefix), else the first address. */
  address: string;
  /** The first IPv6 address on the link (without prefix), if any. */
  address6?: string;
  /** Every address with its prefix length. */
  addresses: string[];
  /** Bridge-side end of the veth (set it down to cut this link). */
  bridgePort: string;
  mac: string;
}

export interface LabHost {
  name: string;
  ns: string;
  interfaces: Interface[];
}

export class NamespaceLab {
  readonly id: string;
  readonly prefix: string;
  readonly hosts = new Map<string, LabHost>();
  /** Segment name → the namespace holding its bridge. */
  readonly bridges = new Map<string, string>();
  readonly #procs = new Set<Proc>();
  #vethIndex = 0;

  protected constructor(prefix: string) {
    this.prefix = prefix;
    this.id = `${process.pid}x${randomInt(36 ** 3).toString(36)}`;
  }

  static async fromPlan(plan: LabPlan, prefix: string): Promise<NamespaceLab> {
    const lab = new NamespaceLab(prefix);
    await lab.buildPlan(plan);
    return lab;
  }

  /** The namespace name a host or segment of this lab gets. */
  namespaceOf(name: string): string {
    return `${this.prefix}-${this.id}-${name}`;
  }

  protected async buildPlan(plan: LabPlan): Promise<void> {
    await removeStale(this.prefix);
    try {
      for (const name of plan.segments) {
        const ns = this.namespaceOf(`s${name}`);
        await ip('netns', 'add', ns);
        await ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge');
        await ip('-n', ns, 'link', 'set', 'br0', 'up');
        this.bridges.set(name, ns);
      }
      for (const { name, links } of plan.hosts) {
        const ns = this.namespaceOf(name);
        await ip('netns', 'add', ns);
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        const host: LabHost = { name, ns, interfaces: [] };
        for (const link of links) host.interfaces.push(await this.#addLink(name, ns, link));
        this.hosts.set(name, host);
      }
    } catch (error) {
      await this.cleanup();
      throw error;
    }
  }

  async #addLink(hostName: string, ns: string, link: LinkPlan): Promise<Interface> {
    const bridge = this.bridges.get(link.segment);
    if (!bridge) throw new Error(`host ${hostName}: no segment ${link.segment}`);
    const veth = `cl${randomInt(36 ** 5).toString(36)}${this.#vethIndex++}`;
    await ip('link', 'add', `${veth}h`, 'type', 'veth', 'peer', 'name', `${veth}b`);
    await ip('link', 'set', `${veth}h`, 'netns', ns);
    await ip('link', 'set', `${veth}b`, 'netns', bridge);
    await ip('-n', bridge, 'link', 'set', `${veth}b`, 'master', 'br0', 'up');
    await ip('-n', ns, 'link', 'set', `${veth}h`, 'name', link.name);
    for (const address of link.addresses) {
      await ip('-n', ns, 'addr', 'add', address, 'dev', link.name, ...(address.includes(':') ? ['nodad'] : []));
    }
    await ip('-n', ns, 'link', 'set', link.name, 'up');
    const shown = JSON.parse(await ip('-j', '-n', ns, 'link', 'show', 'dev', link.name)) as { address: string }[];
    const bare = link.addresses.map((a) => a.split('/')[0]);
    const v4 = bare.find((a) => !a.includes(':'));
    const v6 = bare.find((a) => a.includes(':'));
    return {
      name: link.name, segment: link.segment, address: v4 ?? bare[0] ?? '', ...(v6 ? { address6: v6 } : {}),
      addresses: [...link.addresses], bridgePort: `${veth}b`, mac: shown[0].address,
    };
  }

  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** The host's interface on a segment (its first one when segment is omitted). */
  link(host: string, segment?: string): Interface {
    const found = this.host(host).interfaces.find((i) => segment === undefined || i.segment === segment);
    if (!found) throw new Error(`host ${host} is not on segment ${segment}`);
    return found;
  }

  /** Starts a process inside a host's namespace (`ip netns exec` execs it, so the PID is the process itself). */
  spawn(host: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}): Proc {
    // group: the process leads its own process group, so killGroup() takes its children down with it.
    const proc: Proc = { ...spawnInNamespace(this.host(host).ns, args, host, { env: options.env, cwd: options.cwd, detached: options.group ?? false }), name: host, group: options.group ?? false };
    this.#procs.add(proc);
    void proc.exited.then(() => this.#procs.delete(proc));
    return proc;
  }

  async exec(host: string, args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
    return (await nsExec(this.host(host).ns, args, options)).stdout;
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

  /** The processes this lab started that are still running. */
  get processes(): Proc[] {
    return [...this.#procs];
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

  /** Sets the bridge side of a host's link down (cut) or up. */
  async setLink(host: string, segment: string, up: boolean): Promise<void> {
    const link = this.link(host, segment);
    await ip('-n', this.bridges.get(segment)!, 'link', 'set', link.bridgePort, up ? 'up' : 'down');
  }

  /** Kills every process this lab started (SIGKILL to its group), then deletes every namespace of the lab. Idempotent. */
  async cleanup(): Promise<void> {
    for (const proc of this.#procs) this.killGroup(proc, 'SIGKILL');
    await Promise.all([...this.#procs].map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000).unref())])));
    // Whatever still runs in the lab's namespaces was started there by us (a daemon's children, a PID namespace
    // being torn down): killed by PID, and waited for, before the namespaces go.
    const deadline = Date.now() + 5000;
    for (const host of this.hosts.values()) {
      for (;;) {
        const pids = (await ip('netns', 'pids', host.ns).catch(() => '')).split('\n').map(Number).filter((pid) => pid > 1);
        if (pids.length === 0 || Date.now() > deadline) break;
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (const host of this.hosts.values()) await ip('netns', 'del', host.ns).catch(() => undefined);
    await removeOwn(`${this.prefix}-${this.id}-`);
  }
}

async function listNamespaces(): Promise<string[]> {
  return (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

async function removeOwn(start: string): Promise<void> {
  for (const ns of await listNamespaces()) if (ns.startsWith(start)) await ip('netns', 'del', ns).catch(() => undefined);
}

/** Deletes namespaces of earlier runs whose process is gone (a crashed run cannot clean up after itself). */
export async function removeStale(prefix: string): Promise<void> {
  for (const ns of await listNamespaces()) {
    const match = new RegExp(`^${prefix}-(\\d+)x`).exec(ns);
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (!alive) await ip('netns', 'del', ns).catch(() => undefined);
  }
}
