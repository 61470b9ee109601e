// How clients address the cluster, derived once from the spec (clients, talos and dns use it).
import { joinHostPort } from '../../spec/address.js';
import { KUBERNETES_API_PORT, listenerOf } from '../../spec/listener-role.js';
import type { Spec } from '../../spec/types.js';
import { firstPortOverride } from '../node-ports.js';
import { Refusals } from '../refusals.js';

/** https://<endpoint>:<kubernetes port>, the server URL in every kubeconfig. */
export function kubernetesApiUrl(spec: Spec): string {
  return `https://${joinHostPort(spec.endpoint, listenerOf(spec, 'kubernetes')?.port ?? KUBERNETES_API_PORT)}`;
}

/**
 * talosctl endpoints: the control-plane nodes themselves, not the endpoint. A Talos VIP is only held
 * while etcd and the apiserver are healthy, so talosctl through the VIP fails exactly when it is
 * needed to repair them; talosctl fails over between the endpoints it is given on its own.
 */
export function talosEndpoints(spec: Spec): string[] {
  // The endpoints carry addresses only, so a node that serves talos on a port of its own cannot be listed.
  const override = firstPortOverride(spec, spec.listeners.filter((l) => l.role === 'talos'));
  if (override) {
    const refusals = new Refusals('clients');
    refusals.add('controlPlane[].ports', `${override.node} serves talos on ${override.port}, but the talosctl endpoints list node addresses without ports`, `remove ${override.path} for render clients; talosctl reaches every control-plane node on the same Talos API port`, override.path);
    refusals.throwIfAny();
  }
  return spec.controlPlane.map((n) => n.address);
}

/**
 * The default node talosctl acts on: one control-plane node. Several default nodes would make
 * `talosctl upgrade` or `reboot` hit every control-plane node at once and lose etcd quorum.
 */
export function defaultTalosNode(spec: Spec): string {
  return spec.controlPlane[0].address;
}
