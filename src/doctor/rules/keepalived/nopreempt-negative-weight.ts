import { defineRule } from '../../context.js';
import { child } from '../../parsers/keepalived.js';
import { instances, KEEPALIVED_MAN } from './instances.js';

/** With nopreempt, a peer never takes the VIP because of priority, so a negative weight cannot move it. */
export const keepalivedNopreemptNegativeWeight = defineRule({
  id: 'keepalived/nopreempt-negative-weight',
  kind: 'keepalived',
  check(file) {
    return instances(file).flatMap((instance) => {
      const nopreempt = child(instance.node, 'nopreempt');
      const negative = instance.tracked.find((t) => t.weight < 0);
      if (!nopreempt || !negative) return [];
      return [{
        severity: 'error' as const,
        line: nopreempt.line,
        message: `vrrp_instance ${instance.name} has nopreempt and tracks ${negative.name} with weight ${negative.weight}`,
        why: 'a failing script only lowers this node\'s priority; with nopreempt the peers do not take over a live master because of priority, so the VIP stays on the broken balancer (it never fails over)',
        source: KEEPALIVED_MAN,
        fix: `remove "weight ${negative.weight}" so a failing script puts the instance in FAULT state (it then releases the VIP), or remove nopreempt`,
      }];
    });
  },
});
