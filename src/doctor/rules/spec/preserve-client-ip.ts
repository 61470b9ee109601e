import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/** NLB client-IP preservation breaks connections from a target to itself through the NLB. */
export const specPreserveClientIp = defineRule({
  id: 'spec/preserve-client-ip',
  kind: 'spec',
  check(file) {
    if (!file.result.spec?.aws?.preserveClientIp) return [];
    return [{
      severity: 'warning' as const,
      line: specLine(file, ['aws', 'preserveClientIp']),
      message: 'aws.preserveClientIp is true',
      why: 'control-plane nodes reach the API through the NLB (kubelet, controllers); when the NLB picks the same node as target, the packet keeps its source address, the node drops the reply path and the connection times out (NAT loopback / hairpinning is not supported with client IP preservation)',
      source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation',
      fix: 'remove aws.preserveClientIp (default false)',
    }];
  },
});
