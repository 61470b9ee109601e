// What the cluster says about the spec's control plane, once (probe, doctor): the API servers the `kubernetes`
// EndpointSlices list, against the spec's controlPlane — nodes the cluster has and the spec does not, and the
// other way round. Asked through the spec's nodes first, then the kubeconfig's server.
import { UserError } from '../../errors.js';
import { joinHostPort } from '../../spec/address.js';
import { listenerOf } from '../../spec/listener-role.js';
import type { Node, Spec } from '../../spec/types.js';
import { listSlices, loadCredentials } from './client.js';
import { apiServers, drift, type ApiServer, type EndpointSliceLike } from './slices.js';

export interface ClusterDrift {
  /** The API server that answered. */
  server?: string;
  /** The API servers the cluster lists. */
  listed: ApiServer[];
  /** Listed by the cluster, not in the spec's controlPlane. */
  unlisted: ApiServer[];
  /** In the spec's controlPlane, not listed by the cluster. */
  missing: Node[];
  /** Why the cluster could not be asked (then the lists are empty). */
  error?: string;
}

/** undefined when the spec has no discovery.kubernetes. */
export async function clusterDrift(spec: Spec, timeoutMs: number): Promise<ClusterDrift | undefined> {
  const settings = spec.discovery?.kubernetes;
  if (!settings) return undefined;
  let credentials;
  try {
    credentials = await loadCredentials(settings.kubeconfig);
  } catch (error) {
    if (error instanceof UserError) return { listed: [], unlisted: [], missing: [], error: error.message };
    throw error;
  }
  const port = listenerOf(spec, 'kubernetes')?.targetPort ?? 6443;
  const candidates = [...new Set([...spec.controlPlane.map((n) => `https://${joinHostPort(n.address, n.ports?.kubernetes ?? port)}`), credentials.server])];
  const errors: string[] = [];
  for (const base of candidates) {
    try {
      const list = await listSlices({ base, credentials }, timeoutMs);
      const listed = apiServers(list.items as EndpointSliceLike[]);
      return { server: base, listed, ...drift(listed, spec.controlPlane) };
    } catch (error) {
      errors.push(`${base}: ${(error as Error).message}`);
    }
  }
  return { listed: [], unlisted: [], missing: [], error: `no API server answered (${errors.join('; ')})` };
}

/** The drift in words, one line each (empty when the spec and the cluster agree). */
export function driftLines(result: ClusterDrift): string[] {
  if (result.error) return [`discovery: cannot ask the cluster for its API servers: ${result.error}`];
  return [
    ...result.unlisted.map((s) => `the cluster lists the API server ${s.address} (port ${s.port}), which spec controlPlane does not: add it to controlPlane (serve with discovery follows it anyway; render and the other engines do not)`),
    ...result.missing.map((n) => `controlPlane ${n.name} (${n.address}) is not among the cluster's API servers: a node that left (remove it from the spec) or whose kube-apiserver is down`),
  ];
}
