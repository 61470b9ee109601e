import { defineRule } from '../../context.js';
import { certSanLists, controlPlaneEndpoint, vips } from './machine-config.js';

/** A certSANs list that lacks the endpoint makes kubectl/talosctl fail certificate verification through it. */
export const talosCertSansEndpoint = defineRule({
  id: 'talos/certsans-endpoint',
  kind: 'talos',
  check(file, context) {
    const endpoint = context.spec?.endpoint ?? controlPlaneEndpoint(file) ?? vips(file)[0]?.value;
    if (!endpoint) return [];
    return certSanLists(file)
      .filter((list) => !list.value.includes(endpoint))
      .map((list) => ({
        severity: 'warning' as const,
        line: list.line,
        message: `${list.path} does not contain the endpoint ${endpoint}`,
        why: list.path === 'machine.certSANs'
          ? 'talosctl through the endpoint gets a Talos API certificate that does not name it and fails verification'
          : 'kubectl through the endpoint gets an API server certificate that does not name it ("x509: certificate is valid for ..., not ...")',
        source: 'https://www.talos.dev/v1.11/reference/configuration/v1alpha1/config/ (machine.certSANs, cluster.apiServer.certSANs)',
        fix: `add ${endpoint} to ${list.path}`,
      }));
  },
});
