import { API_PORTS } from '../../../spec/listener-role.js';
import { defineRule } from '../../context.js';
import { resolve, resources } from '../../parsers/terraform.js';
import { resourceLine } from './where.js';

/** Client-IP preservation on instance targets breaks a node's own connections to the API through the NLB. */
export const terraformPreserveClientIp = defineRule({
  id: 'terraform/preserve-client-ip',
  kind: 'terraform',
  check(file, context) {
    return resources(file.terraform, 'aws_lb_target_group').flatMap(({ name, body }) => {
      const preserve = resolve(body.preserve_client_ip, context.variables);
      if (!(preserve === true || preserve === 'true')) return [];
      const targetType = resolve(body.target_type, context.variables) ?? 'instance';
      if (targetType !== 'instance') return [];
      const port = Number(resolve(body.port, context.variables));
      if (Number.isFinite(port) && port > 0 && !API_PORTS.has(port)) return [];
      return [{
        severity: 'warning' as const,
        line: resourceLine(file, 'aws_lb_target_group', name, 'preserve_client_ip'),
        message: `aws_lb_target_group.${name} preserves the client IP on instance targets`,
        why: 'control-plane nodes reach the API through the NLB (kubelet, controller-manager, scheduler, talosctl on the node); when the NLB picks the same node, source and destination are the same host and the connection times out (NAT loopback/hairpinning is not supported with client IP preservation)',
        source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation',
        fix: 'set preserve_client_ip = false (security groups then see the NLB\'s private addresses: allow the VPC CIDR)',
      }];
    });
  },
});
