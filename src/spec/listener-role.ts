// What a listener carries, decided once when the spec is normalized: render, probe, watch and doctor
// read `listener.role` instead of each guessing from the name or the port.
import type { Listener, Spec, TargetGroup } from './types.js';

export const LISTENER_ROLES = ['kubernetes', 'talos', 'talos-workers', 'other'] as const;
export type ListenerRole = (typeof LISTENER_ROLES)[number];

/** kube-apiserver's port on the nodes. */
export const KUBERNETES_API_PORT = 6443;
/** apid's (the Talos API's) port on the nodes. */
export const TALOS_API_PORT = 50000;
/** The ports of the APIs that speak only TLS (kube-apiserver's and apid's). */
export const API_PORTS: ReadonlySet<number> = new Set([KUBERNETES_API_PORT, TALOS_API_PORT]);

/**
 * The role of a listener: its name when that is a role whose target group matches (kubernetes and
 * talos → controlPlane, talos-workers → workers); else its target port (6443 on the control plane →
 * kubernetes, 50000 → talos or talos-workers by target group); else other.
 */
export function listenerRole(listener: { name: string; targetPort: number; targets: TargetGroup }): ListenerRole {
  const { name, targetPort, targets } = listener;
  if (targets === 'controlPlane' && (name === 'kubernetes' || name === 'talos')) return name;
  if (targets === 'workers' && name === 'talos-workers') return name;
  if (targets === 'controlPlane' && targetPort === KUBERNETES_API_PORT) return 'kubernetes';
  if (targetPort === TALOS_API_PORT) return targets === 'workers' ? 'talos-workers' : 'talos';
  return 'other';
}

/**
 * "The" listener of a role, where one is needed (the kubeconfig's port, the talosctl endpoints, the
 * port keepalived's check connects to): the listener named after the role, else the first with it.
 */
export function listenerOf(spec: Pick<Spec, 'listeners'>, role: Exclude<ListenerRole, 'other'>): Listener | undefined {
  const all = spec.listeners.filter((l) => l.role === role);
  return all.find((l) => l.name === role) ?? all[0];
}

/** The main listener: the Kubernetes API's (listenerOf), else the first one. */
export const mainListener = (spec: Pick<Spec, 'listeners'>): Listener => listenerOf(spec, 'kubernetes') ?? spec.listeners[0];
