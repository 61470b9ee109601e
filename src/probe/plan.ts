// What probe checks: the endpoint and every node, on every listener. Pure: built from a spec or from
// the command line.
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

export function listenerKind(name: string, targetPort: number): ListenerKind {
  if (name === 'kubernetes' || targetPort === 6443) return 'kubernetes';
  if (name.startsWith('talos') || targetPort === 50000) return 'talos';
  return 'tcp';
}

export function planFromSpec(spec: Spec): ProbePlan {
  return {
    endpoint: spec.endpoint,
    listeners: spec.listeners.map((l) => ({
      name: l.name, port: l.port, targetPort: l.targetPort, kind: listenerKind(l.name, l.targetPort),
      nodes: l.servers.map((s) => ({ name: s.name, address: s.address, ...(s.port !== l.targetPort ? { port: s.port } : {}) })),
    })),
  };
}

export const DEFAULT_PROBE_LISTENERS = [
  { name: 'kubernetes', port: 6443, targetPort: 6443 },
  { name: 'talos', port: 50000, targetPort: 50000 },
] as const;

export function planFromFlags(endpoint: string, nodes: Array<{ name: string; address: string }>, listeners: ReadonlyArray<{ name: string; port: number; targetPort: number }> = DEFAULT_PROBE_LISTENERS): ProbePlan {
  return { endpoint, listeners: listeners.map((l) => ({ ...l, kind: listenerKind(l.name, l.targetPort), nodes })) };
}

/** The endpoint first, then each node, per listener. */
export function targets(plan: ProbePlan): ProbeTarget[] {
  return plan.listeners.flatMap((l) => [
    { role: 'endpoint' as const, name: 'endpoint', address: plan.endpoint, port: l.port, listener: l.name, kind: l.kind },
    ...l.nodes.map((n) => ({ role: 'node' as const, name: n.name, address: n.address, port: n.port ?? l.targetPort, listener: l.name, kind: l.kind })),
  ]);
}
