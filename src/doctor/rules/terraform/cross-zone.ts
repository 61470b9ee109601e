import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { resolve, resources, type TerraformVariables } from '../../parsers/terraform.js';
import { AWS_LB_DOCS, resourceLine } from './where.js';

/**
 * Cross-zone off: each NLB node sends only to targets in its own zone. Statically doctor compares the
 * number of NLB subnets with the number of control-plane zones when both are known (a list variable
 * whose name mentions availability zones / azs, or the control-plane subnets); when they are not, it
 * says what to check (info).
 */
export const terraformCrossZone = defineRule({
  id: 'terraform/cross-zone',
  kind: 'terraform',
  check(file, context) {
    return resources(file.terraform, 'aws_lb').flatMap(({ name, body }): RuleFinding[] => {
      const crossZone = resolve(body.enable_cross_zone_load_balancing, context.variables);
      if (!(crossZone === false || crossZone === 'false')) return [];
      const subnets = resolve(body.subnets, context.variables);
      const subnetCount = Array.isArray(subnets) ? subnets.length : undefined;
      const zones = controlPlaneZones(context.variables);
      const line = resourceLine(file, 'aws_lb', name, 'enable_cross_zone_load_balancing');
      const base = {
        source: `${AWS_LB_DOCS}#enable_cross_zone_load_balancing ; https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/how-elastic-load-balancing-works.html#cross-zone-load-balancing`,
        fix: 'set enable_cross_zone_load_balancing = true (the default in cluster-endpoint), or give the NLB exactly one subnet in each zone that has control-plane nodes',
      };
      if (subnetCount !== undefined && zones !== undefined && subnetCount !== zones.count) {
        return [{
          ...base, severity: 'warning' as const, line,
          message: `aws_lb.${name}: cross-zone load balancing is off and the NLB has ${subnetCount} subnet(s) while the control plane spans ${zones.count} zone(s) (${zones.from})`,
          why: 'with cross-zone off an NLB node only reaches targets in its own zone: a zone without control-plane nodes answers with nothing, and nodes in a zone without an NLB subnet get no traffic',
        }];
      }
      if (subnetCount === undefined || zones === undefined) {
        return [{
          ...base, severity: 'info' as const, line,
          message: `aws_lb.${name}: cross-zone load balancing is off; doctor cannot tell statically whether the NLB's subnets match the control-plane zones`,
          why: 'with cross-zone off an NLB node only reaches targets in its own zone; each NLB subnet needs control-plane nodes in the same zone, and uneven node counts get uneven load',
        }];
      }
      return [];
    });
  },
});

function controlPlaneZones(variables: TerraformVariables): { count: number; from: string } | undefined {
  for (const [name, entry] of variables) {
    if (!Array.isArray(entry.value)) continue;
    if (/availability_zones|(^|_)azs($|_)|control_plane_subnet/.test(name)) return { count: new Set(entry.value.map(String)).size, from: `var.${name} in ${entry.file}:${entry.line}` };
  }
  return undefined;
}

