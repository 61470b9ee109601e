import { isIP } from 'node:net';
import { joinHostPort, splitHostPort } from '../../../spec/address.js';
import { KUBERNETES_API_PORT } from '../../../spec/listener-role.js';
import { defineRule } from '../../context.js';
import { controlPlaneEndpointEntry, parseEndpointUrl } from './machine-config.js';

const ENDPOINT_DOCS = 'https://www.talos.dev/v1.11/reference/configuration/v1alpha1/config/#Config.cluster.controlPlane (endpoint: "https://1.2.3.4:6443")';

/** cluster.controlPlane.endpoint is the URL every kubelet and controller uses: https, with the API port. */
export const talosEndpointUrl = defineRule({
  id: 'talos/endpoint-url',
  kind: 'talos',
  check(file) {
    const entry = controlPlaneEndpointEntry(file);
    if (!entry) return [];
    const url = parseEndpointUrl(entry.value);
    const base = { severity: 'error' as const, line: entry.line, source: ENDPOINT_DOCS };
    if (!url) {
      return [{ ...base, message: `cluster.controlPlane.endpoint "${entry.value}" is not a URL`, why: 'Talos writes it into every kubeconfig and kubelet configuration as the API server URL; without a scheme and port it does not load', fix: `write it as https://${joinHostPort(bareHost(entry.value), KUBERNETES_API_PORT)}` }];
    }
    if (url.protocol !== 'https') {
      return [{ ...base, message: `cluster.controlPlane.endpoint "${entry.value}" uses ${url.protocol}://`, why: 'kube-apiserver only serves TLS: kubelets, controllers and kubectl speaking plain HTTP to it get "client sent an HTTP request to an HTTPS server"', fix: `use https://${joinHostPort(url.host, url.port ?? KUBERNETES_API_PORT)}` }];
    }
    if (url.port === undefined) {
      return [{ ...base, message: `cluster.controlPlane.endpoint "${entry.value}" has no port, so clients use 443`, why: 'an https URL without a port means 443, while kube-apiserver (and a balancer in front of it) listens on 6443: kubelets and kubectl cannot reach the API', fix: `add the port: https://${joinHostPort(url.host, KUBERNETES_API_PORT)}` }];
    }
    return [];
  },
});

/** The host of "host", "host:port", "[v6]:port" or a bare IPv6 address. */
function bareHost(value: string): string {
  if (isIP(value)) return value;
  return splitHostPort(value)?.host ?? value.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}
