// Throwaway networks made of network namespaces: segments (a bridge in a namespace of its own) and
// hosts (a namespace each) with one veth per segment they sit on, private subnets only, no default
// route out unless a test adds one between its own hosts. Unique names per run; cleanup() kills the
// processes we started (by PID), then deletes every namespace; namespaces of crashed runs are removed
// at the next create.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnInNamespace, type Line, type NsProc } from './proc.js';

const run = promisify(execFile);

export async function canUseNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await run('ip', ['netns', 'list']);
    return true;
  } catch {
    return false;
  }
}

/**
 * A PATH with every program of this host's /usr/sbin and /usr/bin but `missing`, for "X is not installed" cases;
 * remove() deletes it.
 */
export async function pathWithout(...missing: string[]): Promise<{ path: string; remove: () => Promise<void> }> {
  const bin = await mkdtemp(join(tmpdir(), 'ce-path-'));
  for (const dir of ['/usr/sbin', '/usr/bin']) {
    for (const name of await readdir(dir)) {
      if (!missing.includes(name)) await symlink(join(dir, name), join(bin, name)).catch(() => undefined);
    }
  }
  return { path: bin, remove: () => rm(bin, { recursive: true, force: true }) };
}

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

export async function nsExec(ns: string, args: string[], options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return run('ip', ['netns', 'exec', ns, ...args], { timeout: options.timeoutMs ?? 30_000, maxBuffer: 32 * 1024 * 1024 });
}

export type { Line };

export interface Proc extends NsProc {
  name: string;
  /** Leads its own process group (spawned with group: true). */
  group: boolean;
}

export interface Interface {
  /** Name inside the host (eth0, eth1, …). */
  name: string;
  segment: string;
  /** IPv4 address on the segment. */
  address: string;
  /** IPv6 address on the segment, when the lab has IPv6. */
  address6?: string;
  /** Bridge-side end of the veth (set it down to cut this link). */
  bridgePort: string;
  mac: string;
}

export interface LabHost {
  name: string;
  ns: string;
  interfaces: Interface[];
}

export interface LabSpec {
  /** Segment name → third octet of its 10.<lab>.<octet>.0/24 subnet. */
  segments: Record<string, number>;
  /** Host name → the segments it sits on, with its last octet on each (interfaces eth0, eth1, … in this order). */
  hosts: Record<string, Record<string, number>>;
  /** Also give every interface fd00:<lab>:<segment>::<octet>/64 (nodad). */
  ipv6?: boolean;
}

export class Lab {
  readonly id: string;
  /** Second octet of every subnet of this lab: 10.<octet>.<segment>.0/24. */
  readonly octet: number;
  readonly prefix: string;
  readonly hosts = new Map<string, LabHost>();
  readonly segments = new Map<string, { ns: string; subnet: string; subnet6?: string }>();
  readonly #procs = new Set<Proc>();

  protected constructor(prefix: string) {
    this.prefix = prefix;
    this.id = `${process.pid}x${randomInt(36 ** 3).toString(36)}`;
    this.octet = randomInt(100, 250);
  }

  static async create(spec: LabSpec, prefix = 'celab'): Promise<Lab> {
    const lab = new Lab(prefix);
    await lab.build(spec);
    return lab;
  }

  protected async build(spec: LabSpec): Promise<void> {
    await removeStale(this.prefix);
    try {
      for (const [name, third] of Object.entries(spec.segments)) {
        const ns = `${this.prefix}-${this.id}-s${name}`;
        await ip('netns', 'add', ns);
        await ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge');
        await ip('-n', ns, 'link', 'set', 'br0', 'up');
        this.segments.set(name, { ns, subnet: `10.${this.octet}.${third}`, ...(spec.ipv6 ? { subnet6: `fd00:${this.octet}:${third}` } : {}) });
      }
      let index = 0;
      for (const [name, links] of Object.entries(spec.hosts)) {
        const ns = `${this.prefix}-${this.id}-${name}`;
        await ip('netns', 'add', ns);
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        const host: LabHost = { name, ns, interfaces: [] };
        for (const [slot, [segmentName, last]] of Object.entries(links).entries()) {
          const segment = this.segments.get(segmentName);
          if (!segment) throw new Error(`host ${name}: no segment ${segmentName}`);
          const veth = `cl${randomInt(36 ** 5).toString(36)}${index++}`;
          const ifname = `eth${slot}`;
          await ip('link', 'add', `${veth}h`, 'type', 'veth', 'peer', 'name', `${veth}b`);
          await ip('link', 'set', `${veth}h`, 'netns', ns);
          await ip('link', 'set', `${veth}b`, 'netns', segment.ns);
          await ip('-n', segment.ns, 'link', 'set', `${veth}b`, 'master', 'br0', 'up');
          await ip('-n', ns, 'link', 'set', `${veth}h`, 'name', ifname);
          const address = `${segment.subnet}.${last}`;
          await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname);
          const address6 = segment.subnet6 ? `${segment.subnet6}::${last}` : undefined;
          if (address6) await ip('-n', ns, 'addr', 'add', `${address6}/64`, 'dev', ifname, 'nodad');
          await ip('-n', ns, 'link', 'set', ifname, 'up');
          const link = JSON.parse(await ip('-j', '-n', ns, 'link', 'show', 'dev', ifname)) as { address: string }[];
          host.interfaces.push({ name: ifname, segment: segmentName, address, ...(address6 ? { address6 } : {}), bridgePort: `${veth}b`, mac: link[0].address });
        }
        this.hosts.set(name, host);
      }
    } catch (error) {
      await this.cleanup();
      throw error;
    }
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

  /** The host's IPv4 address on a segment (or its first). */
  addressOf(host: string, segment?: string): string {
    return this.link(host, segment).address;
  }

  /** The host's IPv6 address on a segment (or its first); the lab must have ipv6. */
  address6Of(host: string, segment?: string): string {
    const address = this.link(host, segment).address6;
    if (!address) throw new Error('this lab has no IPv6');
    return address;
  }

  /** Makes `via` (a host on the same segment as `host`) the default route of `host`, for IPv4 and, if any, IPv6. */
  async defaultRoute(host: string, via: string): Promise<void> {
    const mine = this.host(host).interfaces;
    const gateway = this.host(via).interfaces.find((i) => mine.some((m) => m.segment === i.segment));
    if (!gateway) throw new Error(`${host} and ${via} share no segment`);
    await this.exec(host, ['ip', 'route', 'add', 'default', 'via', gateway.address]);
    if (gateway.address6) await this.exec(host, ['ip', '-6', 'route', 'add', 'default', 'via', gateway.address6]);
  }

  async sysctl(host: string, setting: string): Promise<void> {
    await this.exec(host, ['sysctl', '-qw', setting]);
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
    await ip('-n', this.segments.get(segment)!.ns, 'link', 'set', link.bridgePort, up ? 'up' : 'down');
  }

  async cleanup(): Promise<void> {
    for (const proc of this.#procs) this.killGroup(proc, 'SIGKILL');
    await Promise.all([...this.#procs].map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
    for (const host of this.hosts.values()) await ip('netns', 'del', host.ns).catch(() => undefined);
    const all = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]);
    for (const ns of all) if (ns.startsWith(`${this.prefix}-${this.id}-`)) await ip('netns', 'del', ns).catch(() => undefined);
  }
}

/** Deletes namespaces of earlier runs whose process is gone (a crashed run cannot clean up after itself). */
export async function removeStale(prefix: string): Promise<void> {
  const all = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  for (const ns of all) {
    const match = new RegExp(`^${prefix}-(\\d+)x`).exec(ns);
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (!alive) await ip('netns', 'del', ns).catch(() => undefined);
  }
}
