import { defineRule } from '../../context.js';
import { resources } from '../../parsers/terraform.js';
import { ETCD_QUORUM_DOCS } from '../../sources.js';
import { resourceLine } from './where.js';

/** The guide's layout counts control-plane nodes in a variable; one or two behind an NLB has no quorum to fail over with. */
export const terraformQuorum = defineRule({
  id: 'terraform/quorum',
  kind: 'terraform',
  check(file, context) {
    const lbs = resources(file.terraform, 'aws_lb');
    if (lbs.length === 0) return [];
    const entry = [...context.variables].find(([name]) => /^(control_plane|controlplane|cp|master)s?_(count|nodes|node_count|instance_count)$/.test(name));
    const count = entry ? Number(entry[1].value) : NaN;
    if (!entry || !Number.isInteger(count) || count < 1 || count > 2) return [];
    return [{
      severity: 'warning' as const,
      line: resourceLine(file, 'aws_lb', lbs[0].name),
      message: `aws_lb.${lbs[0].name} balances ${count} control-plane node(s) (var.${entry[0]} = ${count} in ${entry[1].file}:${entry[1].line})`,
      why: count === 1
        ? 'with one control-plane node the NLB has nothing to fail over to: it adds cost and a hop, not availability'
        : 'etcd needs a majority: with two members, losing either one stops etcd and the API on both nodes, so the NLB has no healthy target',
      source: ETCD_QUORUM_DOCS,
      fix: `set ${entry[0]} = 3 (or 5)`,
    }];
  },
});
