import { isIP } from 'node:net';
import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { sameHost } from '../../../spec/address.js';
import { KUBERNETES_API_PORT, listenerOf } from '../../../spec/listener-role.js';
import { driftFinding } from '../drift.js';
import { controlPlaneEndpointEntry, parseEndpointUrl, vips } from './machine-config.js';

/**
 * Talos machine configs against the spec: the VIP (a Talos VIP is the spec's vip without peers; with peers
 * the LB hosts hold it and a Talos VIP for the same address would give it two owners) and the
 * controlPlane endpoint (host and the Kubernetes listener's port).
 */
export const talosDrift = defineRule({
  id: 'talos/drift',
  kind: 'talos',
  check(file, context) {
    const spec = context.spec;
    if (!spec) return [];
    const found: RuleFinding[] = [];
    for (const vip of vips(file)) {
      if (!spec.vip) found.push(driftFinding(vip.line, 'the VIP', 'no VIP', `has the Talos VIP ${vip.value}`));
      else if (spec.vip.peers.length > 0 && sameHost(vip.value, spec.vip.address)) found.push(driftFinding(vip.line, `the VIP ${vip.value}`, `that the LB hosts ${spec.vip.peers.map((p) => p.name).join(', ')} hold it`, 'makes it a Talos VIP too (two owners)'));
      else if (!sameHost(vip.value, spec.vip.address)) found.push(driftFinding(vip.line, 'the VIP', spec.vip.address, `has ${vip.value}`));
    }
    const entry = controlPlaneEndpointEntry(file);
    const url = entry ? parseEndpointUrl(entry.value) : undefined;
    if (entry && url) {
      const port = listenerOf(spec, 'kubernetes')?.port ?? KUBERNETES_API_PORT;
      // A name and an address may be the same endpoint (DNS): only two names or two addresses are compared, each
      // by value (the URL parser writes fd42:0::fb back as fd42::fb).
      if (!sameHost(url.host, spec.endpoint) && (isIP(url.host) === 0) === (isIP(spec.endpoint) === 0)) found.push(driftFinding(entry.line, 'cluster.controlPlane.endpoint host', spec.endpoint, `has ${url.host}`));
      if (url.port !== undefined && url.port !== port) found.push(driftFinding(entry.line, 'cluster.controlPlane.endpoint port', `${port} (the kubernetes listener)`, `has ${url.port}`));
    }
    return found;
  },
});
