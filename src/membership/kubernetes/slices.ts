// What the cluster's `kubernetes` EndpointSlices say, as members: kube-apiserver keeps in them the addresses of
// the API servers that are up (each adds itself and is removed when its lease lapses or it shuts down). Pure.
import { isIP } from 'node:net';
import type { Listener, Node, Spec } from '../../spec/types.js';

/** The parts of a discovery.k8s.io/v1 EndpointSlice read here. */
export interface EndpointSliceLike {
  metadata?: { name?: string; resourceVersion?: string };
  addressType?: string;
  endpoints?: Array<{ addresses?: string[]; conditions?: { ready?: boolean | null }; nodeName?: string }> | null;
  ports?: Array<{ name?: string; port?: number }> | null;
}

export interface ApiServer {
  address: string;
  /** The API server's port as the slice gives it (kube-apiserver's secure port). */
  port: number;
}

/**
 * The ready API servers the slices name, by address, in a stable order. An endpoint counts unless it says it is
 * not ready (ready unset means ready, as in the EndpointSlice API); FQDN slices and unusable addresses are skipped.
 */
export function apiServers(slices: Iterable<EndpointSliceLike>): ApiServer[] {
  const found = new Map<string, ApiServer>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const port = (slice.ports ?? []).find((p) => p.name === 'https')?.port ?? (slice.ports ?? [])[0]?.port ?? 6443;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses ?? []) {
        if (isIP(address) === 0 || found.has(address)) continue;
        found.set(address, { address, port });
      }
    }
  }
  return [...found.values()].sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}

/** A node name for an address the spec does not name: 10.0.0.5 → ip-10-0-0-5, fd00::5 → ip-fd00--5. */
export function nameFor(address: string): string {
  return `ip-${address.toLowerCase().replace(/[^a-z0-9]/g, '-')}`.replace(/-+$/, '').slice(0, 63);
}

/**
 * The control-plane nodes for the API servers the cluster lists: a node the spec has at that address keeps its
 * name, weight and port overrides; any other is named after its address.
 */
export function discoveredNodes(servers: readonly ApiServer[], controlPlane: readonly Node[]): Node[] {
  const byAddress = new Map(controlPlane.map((n) => [n.address, n]));
  const used = new Set(controlPlane.map((n) => n.name));
  return servers.map(({ address }) => {
    const known = byAddress.get(address);
    if (known) return known;
    let name = nameFor(address);
    while (used.has(name)) name = `${name.slice(0, 60)}-x`;
    used.add(name);
    return { name, address, weight: 1 };
  });
}

/** `spec`'s listeners with the servers of every control-plane listener taken from `nodes` (workers' unchanged). */
export function listenersWith(spec: Spec, nodes: readonly Node[]): Listener[] {
  return spec.listeners.map((listener) => listener.targets !== 'controlPlane' ? listener : {
    ...listener,
    servers: nodes.map((n) => ({ name: n.name, address: n.address, port: n.ports?.[listener.name] ?? listener.targetPort, weight: n.weight })),
  });
}

/** Nodes the cluster lists and the spec does not (by address), and spec nodes the cluster does not list. */
export function drift(servers: readonly ApiServer[], controlPlane: readonly Node[]): { unlisted: ApiServer[]; missing: Node[] } {
  const inSpec = new Set(controlPlane.map((n) => n.address));
  const inCluster = new Set(servers.map((s) => s.address));
  return { unlisted: servers.filter((s) => !inSpec.has(s.address)), missing: controlPlane.filter((n) => !inCluster.has(n.address)) };
}
