import { KUBERNETES_API_PORT, TALOS_API_PORT } from '../../../spec/listener-role.js';
import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { talosconfigEndpoints } from './machine-config.js';

/**
 * talosctl dials each endpoint on apid's port 50000 unless the endpoint names a port; a port copied from
 * the kubeconfig (6443) or a balancer's workers listener sends the Talos API somewhere else. A URL
 * (https://...) is not an endpoint at all.
 */
export const talosconfigEndpointPort = defineRule({
  id: 'talos/talosconfig-endpoint-port',
  kind: 'talosconfig',
  check(file) {
    const found: RuleFinding[] = [];
    for (const { context: name, raw: endpoint, port, line } of talosconfigEndpoints(file)) {
      const base = { line, source: 'https://www.talos.dev/v1.11/learn-more/talosctl/#endpoints-and-nodes ; https://github.com/siderolabs/talos/blob/main/pkg/machinery/client/resolver/roundrobin.go (EnsureEndpointsHavePorts: 50000 unless a port is given)' };
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) {
        found.push({ ...base, severity: 'error', message: `talosconfig context ${name}: endpoint "${endpoint}" is a URL`, why: 'talosctl endpoints are host or host:port; a URL is taken as a host name that does not resolve, so talosctl cannot connect', fix: `write the address alone: ${endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[:/].*$/, '')}` });
        continue;
      }
      if (port === undefined || Number(port) === TALOS_API_PORT) continue;
      found.push({
        ...base, severity: 'warning',
        message: `talosconfig context ${name}: endpoint ${endpoint} names port ${port}`,
        why: Number(port) === KUBERNETES_API_PORT
          ? '6443 is kube-apiserver, not the Talos API: talosctl speaks gRPC to the Kubernetes API and fails with TLS or protocol errors'
          : `apid listens on ${TALOS_API_PORT} on every node; through port ${port} talosctl reaches something else (a balancer's worker listener reaches workers, which do not proxy to other nodes)`,
        fix: `drop the port (talosctl uses ${TALOS_API_PORT}) and list the control-plane node addresses`,
      });
    }
    return found;
  },
});
