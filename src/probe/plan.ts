// What probe checks: the endpoint and every node, on every listener. Pure: built from a spec or from
// the command line.
import { listenerRole, type ListenerRole } from '../spec/listener-role.js';
import type { Spec } from '../spec/types.js';

export const LISTENER_KINDS = ['kubernetes', 'talos', 'tcp'] as const;
export type ListenerKind = (typeof LISTENER_KINDS)[number];

export interface ProbeListener {
  name: string;
  /** Port on the endpoint. */
  port: number;
  /** Port on the nodes. */
  targetPort: number;
  kind: ListenerKind;
  /** `port` overrides targetPort for a node that serves this listener elsewhere (spec `ports:`). */
  nodes: Array<{ name: string; address: string; port?: number }>;
}

export interface ProbePlan {
  endpoint: string;
  listeners: ProbeListener[];
}

/** One connection target: the endpoint or a node, on one listener. */
export interface ProbeTarget {
  role: 'endpoint' | 'node';
  name: string;
  address: string;
  port: number;
  listener: string;
  kind: ListenerKind;
}

/** What probe checks on a listener of each role: /readyz and /version, the Talos API, or a TCP connect. */
const KIND_OF_ROLE: Record<ListenerRole, ListenerKind> = { kubernetes: 'kubernetes', talos: 'talos', 'talos-workers': 'talos', other: 'tcp' };

export function planFromSpec(spec: Spec): ProbePlan {
  return {
    endpoint: spec.endpoint,
    listeners: spec.listeners.map((l) => ({
      name: l.name, port: l.port, targetPort: l.targetPort, kind: KIND_OF_ROLE[l.role],
      nodes: l.servers.map((s) => ({ name: s.name, address: s.address, ...(s.port !== l.targetPort ? { port: s.port } : {}) })),
    })),
  };
}

export const DEFAULT_PROBE_LISTENERS = [
  { name: 'kubernetes', port: 6443, targetPort: 6443 },
  { name: 'talos', port: 50000, targetPort: 50000 },
] as const;

export function planFromFlags(endpoint: string, nodes: Array<{ name: string; address: string }>, listeners: ReadonlyArray<{ name: string; port: number; targetPort: number }> = DEFAULT_PROBE_LISTENERS): ProbePlan {
  // Flags name no target group: the nodes given are the ones that serve the listener, as a spec listener
  // of the same name and ports would be decided (talos-workers targets workers, every other name the control plane).
  return {
    endpoint,
    listeners: listeners.map((l) => ({ ...l, kind: KIND_OF_ROLE[listenerRole({ ...l, targets: l.name === 'talos-workers' ? 'workers' : 'controlPlane' })], nodes })),
  };
}

/** The endpoint first, then each node, per listener. */
export function targets(plan: ProbePlan): ProbeTarget[] {
  return plan.listeners.flatMap((l) => [
    { role: 'endpoint' as const, name: 'endpoint', address: plan.endpoint, port: l.port, listener: l.name, kind: l.kind },
    ...l.nodes.map((n) => ({ role: 'node' as const, name: n.name, address: n.address, port: n.port ?? l.targetPort, listener: l.name, kind: l.kind })),
  ]);
}
