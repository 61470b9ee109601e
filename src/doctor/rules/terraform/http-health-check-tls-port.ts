import { API_PORTS, KUBERNETES_API_PORT } from '../../../spec/listener-role.js';
import { defineRule } from '../../context.js';
import { nestedBlock, resolve, resources } from '../../parsers/terraform.js';
import { AWS_TARGET_GROUP_DOCS, resourceLine } from './where.js';

/** health_check { protocol = "HTTP" } against kube-apiserver or apid: they answer TLS only, every target is unhealthy. */
export const terraformHttpHealthCheckTlsPort = defineRule({
  id: 'terraform/http-health-check-tls-port',
  kind: 'terraform',
  check(file, context) {
    return resources(file.terraform, 'aws_lb_target_group').flatMap(({ name, body }) => {
      const check = nestedBlock(body, 'health_check');
      const protocol = resolve(check?.protocol, context.variables);
      if (!check || typeof protocol !== 'string' || protocol.toUpperCase() !== 'HTTP') return [];
      const checkPort = resolve(check.port, context.variables);
      const port = Number(checkPort === undefined || checkPort === 'traffic-port' ? resolve(body.port, context.variables) : checkPort);
      if (!API_PORTS.has(port)) return [];
      return [{
        severity: 'error' as const,
        line: resourceLine(file, 'aws_lb_target_group', name, 'health_check'),
        message: `aws_lb_target_group.${name} health-checks port ${port} with plain HTTP`,
        why: `${port === KUBERNETES_API_PORT ? 'kube-apiserver' : 'apid'} on ${port} speaks only TLS: the NLB's HTTP request gets no valid answer, every target is marked unhealthy, and the NLB then sends to all of them blindly (fail-open) or to none`,
        source: `${AWS_TARGET_GROUP_DOCS}#protocol-1 ; https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html`,
        fix: port === KUBERNETES_API_PORT ? 'use protocol = "HTTPS" with path = "/readyz" (or protocol = "TCP")' : 'use protocol = "TCP" (apid has no HTTP health endpoint)',
      }];
    });
  },
});
