import { defineRule } from '../../context.js';
import { nestedBlock, resolve, resources } from '../../parsers/terraform.js';
import { AWS_TARGET_GROUP_DOCS, resourceLine } from './where.js';

/**
 * A TCP target group whose health_check block has no protocol: the provider fills in HTTP, which
 * kube-apiserver (TLS on 6443) and apid (gRPC/TLS on 50000) answer with errors, so every target is unhealthy.
 */
export const terraformTcpHealthCheckProtocol = defineRule({
  id: 'terraform/tcp-health-check-protocol',
  kind: 'terraform',
  check(file, context) {
    return resources(file.terraform, 'aws_lb_target_group').flatMap(({ name, body }) => {
      const protocol = resolve(body.protocol, context.variables);
      if (typeof protocol !== 'string' || !['TCP', 'TLS', 'TCP_UDP'].includes(protocol.toUpperCase())) return [];
      const check = nestedBlock(body, 'health_check');
      if (check && check.protocol !== undefined) return [];
      return [{
        severity: check ? 'error' as const : 'warning' as const,
        line: resourceLine(file, 'aws_lb_target_group', name, 'health_check', 'protocol'),
        message: check
          ? `aws_lb_target_group.${name} (protocol ${protocol}) has a health_check without protocol`
          : `aws_lb_target_group.${name} (protocol ${protocol}) has no health_check block`,
        why: check
          ? 'the provider defaults health_check.protocol to HTTP: the NLB sends plain HTTP to a TLS port (6443, 50000), gets no valid answer and marks every target unhealthy'
          : 'the health check is left to defaults (the provider\'s default protocol is HTTP when the block is written later without one); state the protocol, interval and thresholds you rely on',
        source: `${AWS_TARGET_GROUP_DOCS}#protocol-1 ("Default is HTTP")`,
        fix: 'add health_check { protocol = "TCP" (or "HTTPS" with path = "/readyz" for 6443) port = "traffic-port" interval = 10 healthy_threshold = 2 unhealthy_threshold = 2 }',
      }];
    });
  },
});
