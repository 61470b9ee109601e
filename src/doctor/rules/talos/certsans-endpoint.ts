import { defineRule, type TalosconfigFile, type TalosFile } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { certSanLists, controlPlaneEndpoint, controlPlaneEndpointEntry, machineType, nodeAddresses, talosconfigEndpoints, vips } from './machine-config.js';

const CONFIG_DOCS = 'https://www.talos.dev/v1.11/reference/configuration/v1alpha1/config/ (machine.certSANs, cluster.apiServer.certSANs)';

/**
 * A certificate that does not name the address clients use. Talos itself adds the host of
 * cluster.controlPlane.endpoint to the API server certificate, and the node's own addresses to the Talos
 * API certificate, so only two cases remain:
 * - kubectl uses the spec's endpoint, the file's controlPlane.endpoint names another host, and
 *   cluster.apiServer.certSANs lacks the spec's endpoint;
 * - talosctl goes through an address that is no node (a balancer), and machine.certSANs lacks it
 *   (a Talos VIP is left out: talosctl should not use it, talos/talosconfig-endpoint-vip says so).
 */
export const talosCertSansEndpoint = defineRule({
  id: 'talos/certsans-endpoint',
  kind: 'talos',
  check(file, context) {
    const found: RuleFinding[] = [];
    const lists = certSanLists(file);
    const stated = controlPlaneEndpoint(file);
    const endpoint = context.spec?.endpoint;
    const api = lists.find((l) => l.path === 'cluster.apiServer.certSANs');
    if (endpoint && stated && stated !== endpoint && !(api?.value ?? []).includes(endpoint)) {
      found.push({
        severity: 'warning', line: api?.line ?? controlPlaneEndpointEntry(file)?.line ?? 1,
        message: `the API server certificate names ${stated} (cluster.controlPlane.endpoint) but not the spec's endpoint ${endpoint}`,
        why: 'Talos adds the controlPlane endpoint\'s host and cluster.apiServer.certSANs to the API server certificate; kubectl through another address fails verification ("x509: certificate is valid for ..., not ...")',
        source: CONFIG_DOCS, fix: api ? `add ${endpoint} to cluster.apiServer.certSANs` : `add cluster.apiServer.certSANs: [${endpoint}]`,
      });
    }
    const talosFiles = context.files.filter((f): f is TalosFile => f.kind === 'talos');
    const nodes = new Set([...(context.spec?.controlPlane ?? []).map((n) => n.address), ...talosFiles.flatMap((f) => nodeAddresses(f).map((a) => a.value.split('/')[0]))]);
    const talosVips = new Set(talosFiles.flatMap((f) => vips(f).map((v) => v.value)));
    if (context.spec?.vip && context.spec.vip.peers.length === 0) talosVips.add(context.spec.vip.address);
    const machine = lists.find((l) => l.path === 'machine.certSANs');
    // A patch without machine.certSANs leaves the base config's list, which doctor does not see.
    if (!machine && machineType(file)?.value !== 'controlplane') return found;
    for (const through of talosctlEndpoints(context.files)) {
      if (nodes.has(through) || talosVips.has(through) || (machine?.value ?? []).includes(through)) continue;
      found.push({
        severity: 'warning', line: machine?.line ?? machineType(file)?.line ?? 1,
        message: `talosctl goes through ${through} (talosconfig), which the Talos API certificate does not name (machine.certSANs)`,
        why: 'the Talos API certificate carries the node\'s own addresses, its hostname and machine.certSANs; through a balancer talosctl checks the balancer\'s address against it and fails verification',
        source: CONFIG_DOCS, fix: `add ${through} to machine.certSANs, or list the node addresses as talosctl endpoints`,
      });
    }
    return found;
  },
});

/** Hosts of every talosconfig endpoint given to doctor. */
function talosctlEndpoints(files: ReadonlyArray<{ kind: string }>): string[] {
  const hosts = new Set<string>();
  for (const file of files.filter((f): f is TalosconfigFile => f.kind === 'talosconfig')) {
    for (const { host } of talosconfigEndpoints(file)) if (host) hosts.add(host);
  }
  return [...hosts];
}
