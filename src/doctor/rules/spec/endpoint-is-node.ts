import { sameHost } from '../../../spec/address.js';
import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/** The endpoint is one node's own address: no failover. */
export const specEndpointIsNode = defineRule({
  id: 'spec/endpoint-is-node',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    const node = spec?.controlPlane.find((n) => sameHost(n.address, spec.endpoint));
    if (!spec || !node || spec.controlPlane.length < 2) return [];
    return [{
      severity: 'warning' as const,
      line: specLine(file, ['endpoint']),
      message: `the endpoint ${spec.endpoint} is the address of ${node.name}`,
      why: `clients (kubectl, talosctl, kubelets) reach only ${node.name}; when it reboots the control plane is unreachable although ${spec.controlPlane.length - 1} other node(s) are up`,
      source: 'reference guide, "Option 2: Single Control Plane (No VIP)"',
      fix: 'use a VIP, a balancer address or a DNS name as the endpoint',
    }];
  },
});
