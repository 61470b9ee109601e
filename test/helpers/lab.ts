// Throwaway networks made of network namespaces for the tests: the lab of src/rehearse/lab.ts (which
// `cluster-endpoint rehearse` builds at run time) with private subnets 10.<lab>.<segment>.0/24 and links
// eth0, eth1, … in the order a host's segments are listed; no default route out unless a test adds one
// between its own hosts. cleanup() kills the processes we started (by PID), then deletes every namespace;
// namespaces of crashed runs are removed at the next create.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ip, NamespaceLab, nsExec, removeStale, type Interface, type LabHost, type Line, type Proc } from '../../src/rehearse/lab.js';

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

export { ip, nsExec, removeStale };
export type { Interface, LabHost, Line, Proc };

export interface LabSpec {
  /** Segment name → third octet of its 10.<lab>.<octet>.0/24 subnet. */
  segments: Record<string, number>;
  /** Host name → the segments it sits on, with its last octet on each (interfaces eth0, eth1, … in this order). */
  hosts: Record<string, Record<string, number>>;
  /** Also give every interface fd00:<lab>:<segment>::<octet>/64 (nodad). */
  ipv6?: boolean;
}

export class Lab extends NamespaceLab {
  /** Second octet of every subnet of this lab: 10.<octet>.<segment>.0/24. */
  readonly octet: number;
  readonly segments = new Map<string, { ns: string; subnet: string; subnet6?: string }>();

  protected constructor(prefix: string) {
    super(prefix);
    this.octet = randomInt(100, 250);
  }

  static async create(spec: LabSpec, prefix = 'celab'): Promise<Lab> {
    const lab = new Lab(prefix);
    await lab.build(spec);
    return lab;
  }

  /** The spec as a plan: segment <name> is 10.<lab>.<octet>.0/24 (and fd00:<lab>:<octet>::/64), links eth0, eth1, … */
  protected async build(spec: LabSpec): Promise<void> {
    for (const [name, third] of Object.entries(spec.segments)) {
      this.segments.set(name, { ns: this.namespaceOf(`s${name}`), subnet: `10.${this.octet}.${third}`, ...(spec.ipv6 ? { subnet6: `fd00:${this.octet}:${third}` } : {}) });
    }
    const hosts = Object.entries(spec.hosts).map(([name, links]) => ({
      name,
      links: Object.entries(links).map(([segment, last], slot) => {
        const subnet = this.segments.get(segment);
        if (!subnet) throw new Error(`host ${name}: no segment ${segment}`);
        return { segment, name: `eth${slot}`, addresses: [`${subnet.subnet}.${last}/24`, ...(subnet.subnet6 ? [`${subnet.subnet6}::${last}/64`] : [])] };
      }),
    }));
    await this.buildPlan({ segments: Object.keys(spec.segments), hosts });
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
}
