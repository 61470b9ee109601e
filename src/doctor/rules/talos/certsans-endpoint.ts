import { defineRule, type TalosconfigFile, type TalosFile } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { sameHost } from '../../../spec/address.js';
import { allNodeAddresses, certSanLists, controlPlaneEndpoint, controlPlaneEndpointEntry, machineType, talosconfigEndpoints, talosconfigNodes, vips } from './machine-config.js';

const CONFIG_DOCS = 'https://www.talos.dev/v1.11/reference/configuration/v1alpha1/config/ (machine.certSANs, cluster.apiServer.certSANs)';

/**
 * A certificate that does not name the address clients use. Talos fills both certificates itself
 * (siderolabs/talos internal/app/machined/pkg/controllers/secrets/api_cert_sans.go and kubernetes_cert_sans.go):
 * the Talos API certificate carries machine.certSANs, the hostname and every address the node has (all links,
 * VLANs included); the API server certificate also carries the host of cluster.controlPlane.endpoint and
 * cluster.apiServer.certSANs. So an address of any node is always named — by that node's own certificate — and
 * only a shared front address (a balancer, an LB-pair VIP) can be missing:
 * - kubectl uses the spec's endpoint, which is no node's address, the file's controlPlane.endpoint names another
 *   host, and cluster.apiServer.certSANs lacks the spec's endpoint;
 * - talosctl goes through a front address doctor knows (the spec's endpoint or a controlPlane.endpoint host) and
 *   machine.certSANs lacks it. Other talosconfig endpoints may be addresses of nodes doctor was not shown, so
 *   they are not flagged (a Talos VIP is left out too: talos/talosconfig-endpoint-vip says talosctl should not
 *   use it).
 */
export const talosCertSansEndpoint = defineRule({
  id: 'talos/certsans-endpoint',
  kind: 'talos',
  check(file, context) {
    const found: RuleFinding[] = [];
    const talosFiles = context.files.filter((f): f is TalosFile => f.kind === 'talos');
    const talosconfigs = context.files.filter((f): f is TalosconfigFile => f.kind === 'talosconfig');
    const nodes = new Set([
      ...[...(context.spec?.controlPlane ?? []), ...(context.spec?.workers ?? [])].map((n) => n.address),
      ...talosFiles.flatMap((f) => allNodeAddresses(f).map((a) => a.value.split('/')[0])),
      ...talosconfigs.flatMap(talosconfigNodes),
    ]);
    const lists = certSanLists(file);
    const stated = controlPlaneEndpoint(file);
    const endpoint = context.spec?.endpoint;
    const api = lists.find((l) => l.path === 'cluster.apiServer.certSANs');
    // Addresses by value: the URL parser gives fdf4::27 for an endpoint the spec writes fdf4:0::27.
    const among = (list: Iterable<string>, host: string) => [...list].some((h) => sameHost(h, host));
    if (endpoint && !among(nodes, endpoint) && stated && !sameHost(stated, endpoint) && !among(api?.value ?? [], endpoint)) {
      found.push({
        severity: 'warning', line: api?.line ?? controlPlaneEndpointEntry(file)?.line ?? 1,
        message: `the API server certificate names ${stated} (cluster.controlPlane.endpoint) but not the spec's endpoint ${endpoint}`,
        why: 'Talos adds the controlPlane endpoint\'s host, the node\'s own addresses and cluster.apiServer.certSANs to the API server certificate; kubectl through another address fails verification ("x509: certificate is valid for ..., not ...")',
        source: CONFIG_DOCS, fix: api ? `add ${endpoint} to cluster.apiServer.certSANs` : `add cluster.apiServer.certSANs: [${endpoint}]`,
      });
    }
    const talosVips = new Set(talosFiles.flatMap((f) => vips(f).map((v) => v.value)));
    if (context.spec?.vip && context.spec.vip.peers.length === 0) talosVips.add(context.spec.vip.address);
    const fronts = new Set([...(endpoint ? [endpoint] : []), ...talosFiles.flatMap((f) => controlPlaneEndpoint(f) ?? [])]);
    const machine = lists.find((l) => l.path === 'machine.certSANs');
    // A patch without machine.certSANs leaves the base config's list, which doctor does not see.
    if (!machine && machineType(file)?.value !== 'controlplane') return found;
    for (const through of talosctlEndpoints(talosconfigs)) {
      if (!among(fronts, through) || among(nodes, through) || among(talosVips, through) || among(machine?.value ?? [], through)) continue;
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
function talosctlEndpoints(files: TalosconfigFile[]): string[] {
  const hosts = new Set<string>();
  for (const file of files) {
    for (const { host } of talosconfigEndpoints(file)) if (host) hosts.add(host);
  }
  return [...hosts];
}
