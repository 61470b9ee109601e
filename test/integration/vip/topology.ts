// A throwaway L2 segment made of network namespaces (test/helpers/lab.ts): one segment, one namespace per
// host with a veth named eth0 on it, a private /24, no default route, unique names; cleanup() deletes
// everything (processes we started first, by PID).
import { canUseNamespaces, ip, Lab, type Proc } from '../../helpers/lab.js';

export { canUseNamespaces, ip };
export type { Proc };

export interface Host {
  name: string;
  ns: string;
  address: string;
  /** Bridge-side end of the host's veth (set it down to cut the host's link). */
  bridgePort: string;
  mac: string;
}

export class Topology extends Lab {
  readonly topologyHosts = new Map<string, Host>();

  /** hosts: name → last octet of its address. */
  static async withHosts(hosts: Record<string, number>): Promise<Topology> {
    const topology = new Topology('cevip');
    await topology.build({ segments: { lan: 1 }, hosts: Object.fromEntries(Object.entries(hosts).map(([name, octet]) => [name, { lan: octet }])) });
    for (const [name, lab] of topology.hosts) {
      const link = lab.interfaces[0];
      topology.topologyHosts.set(name, { name, ns: lab.ns, address: link.address, bridgePort: link.bridgePort, mac: link.mac });
    }
    return topology;
  }

  /** The subnet's first three octets, e.g. "10.173.1". */
  get subnet(): string {
    return this.segments.get('lan')!.subnet;
  }

  override host(name: string): Host & ReturnType<Lab['host']> {
    const host = this.topologyHosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return { ...super.host(name), ...host };
  }

  address(octet: number): string {
    return `${this.subnet}.${octet}`;
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
}
