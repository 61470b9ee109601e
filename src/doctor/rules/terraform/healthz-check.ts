import { defineRule } from '../../context.js';
import { nestedBlock, resolve, resources } from '../../parsers/terraform.js';
import { HEALTH_CHECKS_DOCS, healthzWhy, isHealthz } from '../../sources.js';
import { resourceLine } from './where.js';

/** A target group that checks kube-apiserver's deprecated /healthz instead of /readyz. */
export const terraformHealthzCheck = defineRule({
  id: 'terraform/healthz-check',
  kind: 'terraform',
  check(file, context) {
    return resources(file.terraform, 'aws_lb_target_group').flatMap(({ name, body }) => {
      const path = resolve(nestedBlock(body, 'health_check')?.path, context.variables);
      if (typeof path !== 'string' || !isHealthz(path)) return [];
      return [{
        severity: 'warning' as const,
        line: resourceLine(file, 'aws_lb_target_group', name, 'health_check'),
        message: `aws_lb_target_group.${name} checks ${path}, which is deprecated`,
        why: healthzWhy('the NLB'),
        source: HEALTH_CHECKS_DOCS,
        fix: 'set path = "/readyz"',
      }];
    });
  },
});
