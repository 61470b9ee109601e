import { defineRule } from '../../context.js';
import { resources } from '../../parsers/terraform.js';
import { ETCD_QUORUM_DOCS } from '../../sources.js';
import { quorumWhy } from '../quorum-why.js';
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
      why: quorumWhy(count, `the NLB aws_lb.${lbs[0].name}`),
      source: ETCD_QUORUM_DOCS,
      fix: `set ${entry[0]} = 3 (or 5)`,
    }];
  },
});
