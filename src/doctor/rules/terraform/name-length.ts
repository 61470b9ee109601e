import { defineRule } from '../../context.js';
import { referencedVariables, resolve, resources } from '../../parsers/terraform.js';
import { AWS_LB_DOCS, AWS_TARGET_GROUP_DOCS, resourceLine } from './where.js';

const MAX_NAME = 32;

/** AWS rejects load balancer and target group names over 32 characters (at apply time, not plan time). */
export const terraformNameLength = defineRule({
  id: 'terraform/name-length',
  kind: 'terraform',
  check(file, context) {
    const found = [];
    for (const type of ['aws_lb', 'aws_lb_target_group']) {
      for (const { name, body } of resources(file.terraform, type)) {
        const resolved = resolve(body.name, context.variables);
        if (typeof resolved !== 'string' || resolved.length <= MAX_NAME) continue;
        const variables = referencedVariables(body.name);
        found.push({
          severity: 'error' as const,
          line: resourceLine(file, type, name, 'name'),
          message: `${type}.${name} name "${resolved}" is ${resolved.length} characters (AWS allows ${MAX_NAME})`,
          why: 'terraform plan accepts it, and apply fails creating the load balancer or target group',
          source: `${type === 'aws_lb' ? AWS_LB_DOCS : AWS_TARGET_GROUP_DOCS}#name`,
          fix: variables.length > 0
            ? `shorten the name pattern or ${variables.map((v) => `var.${v}`).join(', ')} (used here as "${variables.map((v) => String(context.variables.get(v)?.value)).join('", "')}")`
            : `shorten the name to ${MAX_NAME} characters or fewer`,
        });
      }
    }
    return found;
  },
});
