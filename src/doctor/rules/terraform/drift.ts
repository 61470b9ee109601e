import { formatDuration } from '../../../spec/duration.js';
import { listenerOf } from '../../../spec/listener-role.js';
import { defineRule, type TerraformSource } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { nestedBlock, resolve, resources } from '../../parsers/terraform.js';
import { driftFinding } from '../drift.js';
import { resourceLine } from './where.js';

/** What an NLB's TCP listener does with idle connections when tcp_idle_timeout_seconds is not set. */
const NLB_DEFAULT_IDLE_SECONDS = 350;

/**
 * Terraform against the spec: listener ports, the TCP listeners' idle timeout, target-group ports, health-check
 * timing and the deregistration delay (values resolved through variable defaults and .tfvars; unknown ones are
 * skipped). Ports the spec has and no file declares are reported once, on the file with the aws_lb.
 */
export const terraformDrift = defineRule({
  id: 'terraform/drift',
  kind: 'terraform',
  check(file, context) {
    const spec = context.spec;
    if (!spec) return [];
    const found: RuleFinding[] = [];
    const number = (value: unknown) => {
      const resolved = resolve(value, context.variables);
      return typeof resolved === 'number' || (typeof resolved === 'string' && /^\d+$/.test(resolved)) ? Number(resolved) : undefined;
    };
    const ports = new Set(spec.listeners.map((l) => l.port));
    const targetPorts = new Set(spec.listeners.map((l) => l.targetPort));
    for (const { name, body } of resources(file.terraform, 'aws_lb_listener')) {
      const port = number(body.port);
      if (port !== undefined && !ports.has(port)) found.push(driftFinding(resourceLine(file, 'aws_lb_listener', name, 'port'), `aws_lb_listener.${name} port`, `listener ports ${[...ports].join(', ')}`, `has ${port}`));
      // balancer.idleTimeout is the NLB's TCP idle timeout (render aws writes it); without one the NLB keeps 350 s.
      if (resolve(body.protocol, context.variables) !== 'TCP') continue;
      const idle = body.tcp_idle_timeout_seconds === undefined ? NLB_DEFAULT_IDLE_SECONDS : number(body.tcp_idle_timeout_seconds);
      if (idle !== undefined && idle * 1000 !== spec.balancer.idleTimeoutMs) {
        found.push(driftFinding(
          resourceLine(file, 'aws_lb_listener', name, 'tcp_idle_timeout_seconds'), `aws_lb_listener.${name} tcp_idle_timeout_seconds`, `balancer.idleTimeout ${formatDuration(spec.balancer.idleTimeoutMs)}`,
          body.tcp_idle_timeout_seconds === undefined ? `sets none, so the NLB closes connections idle for ${NLB_DEFAULT_IDLE_SECONDS}s (quiet kubectl logs -f, exec and watches are cut)` : `has ${idle}s`,
        ));
      }
    }
    // render aws gives every target group one timing; the Kubernetes API listener's is the one to compare.
    const check = (listenerOf(spec, 'kubernetes') ?? spec).healthCheck;
    for (const { name, body } of resources(file.terraform, 'aws_lb_target_group')) {
      const port = number(body.port);
      if (port !== undefined && !targetPorts.has(port)) found.push(driftFinding(resourceLine(file, 'aws_lb_target_group', name, 'port'), `aws_lb_target_group.${name} port`, `target ports ${[...targetPorts].join(', ')}`, `has ${port}`));
      const delay = number(body.deregistration_delay);
      if (delay !== undefined && delay * 1000 !== spec.deregistrationDelayMs) found.push(driftFinding(resourceLine(file, 'aws_lb_target_group', name, 'deregistration_delay'), `aws_lb_target_group.${name} deregistration_delay`, formatDuration(spec.deregistrationDelayMs), `has ${delay}s`));
      const health = nestedBlock(body, 'health_check');
      if (!health) continue;
      const timing: Array<[string, number, (n: number) => string]> = [
        ['interval', check.intervalMs / 1000, (n) => formatDuration(n * 1000)], ['timeout', check.timeoutMs / 1000, (n) => formatDuration(n * 1000)],
        ['healthy_threshold', check.healthyThreshold, String], ['unhealthy_threshold', check.unhealthyThreshold, String],
      ];
      for (const [key, expected, show] of timing) {
        const value = number(health[key]);
        if (value !== undefined && value !== expected) found.push(driftFinding(resourceLine(file, 'aws_lb_target_group', name, 'health_check'), `aws_lb_target_group.${name} health_check.${key}`, show(expected), `has ${show(value)}`));
      }
    }
    if (resources(file.terraform, 'aws_lb').length > 0) {
      const declared = new Set(context.files.filter((f): f is TerraformSource => f.kind === 'terraform').flatMap((f) => resources(f.terraform, 'aws_lb_listener').map(({ body }) => number(body.port))));
      const missing = spec.listeners.filter((l) => !declared.has(l.port));
      if (declared.size > 0 && missing.length > 0) {
        const lb = resources(file.terraform, 'aws_lb')[0];
        found.push(driftFinding(resourceLine(file, 'aws_lb', lb.name), `aws_lb.${lb.name} listeners`, missing.map((l) => `${l.name} on ${l.port}`).join(', '), `has no aws_lb_listener on ${missing.length > 1 ? 'those ports' : 'that port'}`));
      }
    }
    return found;
  },
});
