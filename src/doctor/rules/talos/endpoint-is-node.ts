import { joinHostPort, sameHost } from '../../../spec/address.js';
import { KUBERNETES_API_PORT } from '../../../spec/listener-role.js';
import { defineRule, type TalosFile } from '../../context.js';
import { controlPlaneEndpointEntry, nodeAddresses, parseEndpointUrl, TALOS_VIP_DOCS, vips } from './machine-config.js';

/** With a VIP configured, an endpoint that names one node sends every kubelet to that node alone. */
export const talosEndpointIsNode = defineRule({
  id: 'talos/endpoint-is-node',
  kind: 'talos',
  check(file, context) {
    const entry = controlPlaneEndpointEntry(file);
    const host = entry ? parseEndpointUrl(entry.value)?.host : undefined;
    if (!entry || !host) return [];
    const talosFiles = context.files.filter((f): f is TalosFile => f.kind === 'talos');
    const vip = vips(file)[0]?.value ?? talosFiles.flatMap((f) => vips(f))[0]?.value ?? context.spec?.vip?.address;
    if (!vip || vip === host) return [];
    const own = nodeAddresses(file).some((a) => sameHost(a.value.split('/')[0], host));
    const node = context.spec?.controlPlane.find((n) => sameHost(n.address, host))?.name
      ?? (own || talosFiles.some((f) => nodeAddresses(f).some((a) => sameHost(a.value.split('/')[0], host))) ? host : undefined);
    if (!node) return [];
    return [{
      severity: 'warning' as const,
      line: entry.line,
      message: `cluster.controlPlane.endpoint points at the node ${node === host ? host : `${node} (${host})`} while the VIP ${vip} is configured`,
      why: 'every kubelet, controller and generated kubeconfig uses this endpoint; pointing it at one node means the cluster loses its API whenever that node reboots, and the VIP fails over for nobody',
      source: `${TALOS_VIP_DOCS} ("the VIP becomes the cluster endpoint")`,
      fix: `set cluster.controlPlane.endpoint to https://${joinHostPort(vip, KUBERNETES_API_PORT)}`,
    }];
  },
});
