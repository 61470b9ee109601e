import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { allInstances, instances, KEEPALIVED_MAN, peersOf, type Instance } from './instances.js';

/**
 * A tracked script's weight must be larger than the priority gap to the backup, or a failing check never
 * moves the VIP. The backup's priority comes from the peer's keepalived.conf when given (peersOf), else
 * from a number in the comment on the priority line ("priority 100 # 90 on secondary"); with neither,
 * doctor says it cannot tell (info).
 */
export const keepalivedWeightGap = defineRule({
  id: 'keepalived/weight-gap',
  kind: 'keepalived',
  check(file, context) {
    const all = allInstances(context.files);
    return instances(file).flatMap((instance): RuleFinding[] => {
      const tracked = instance.tracked.filter((t) => t.weight !== 0);
      const priority = instance.priority;
      if (tracked.length === 0 || priority === undefined) return [];
      const backup = backupPriority(instance, all);
      if (backup === undefined) {
        return [{
          severity: 'info' as const,
          line: tracked[0].weightLine,
          message: `vrrp_instance ${instance.name}: cannot check weight ${tracked[0].weight} against the backup's priority`,
          why: 'the weight must exceed the priority gap between this node and its backup, and doctor does not know the backup\'s priority',
          source: KEEPALIVED_MAN,
          fix: 'pass the peer\'s keepalived.conf too, or state it on the priority line ("priority 100  # 90 on backup")',
        }];
      }
      if (backup.priority >= priority) return [];
      const gap = priority - backup.priority;
      const weak = tracked.filter((t) => Math.abs(t.weight) <= gap);
      return weak.map((t) => ({
        severity: 'error' as const,
        line: t.weightLine,
        message: `weight ${t.weight} of ${t.name} cannot overcome the priority gap ${priority} vs ${backup.priority} (${backup.from})`,
        why: t.weight > 0
          ? `when the check fails here this node keeps ${priority} while the healthy backup has ${backup.priority} + ${t.weight} = ${backup.priority + t.weight}, so the VIP stays on the broken balancer`
          : `when the check fails here this node drops to ${priority + t.weight}, still not below the backup's ${backup.priority}, so the VIP stays on the broken balancer`,
        source: KEEPALIVED_MAN,
        fix: `use a weight larger than the gap, e.g. weight ${t.weight > 0 ? gap + 10 : -(gap + 10)}, or no weight (a failing script then puts the instance in FAULT state)`,
      }));
    });
  },
});

function backupPriority(instance: Instance, all: Instance[]): { priority: number; from: string } | undefined {
  const peers = peersOf(instance, all).filter((other) => other.priority !== undefined);
  if (peers.length > 0) {
    // The node that takes over is the next highest below this one.
    const lower = peers.filter((p) => (p.priority ?? 0) < (instance.priority ?? 0)).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
    const peer = lower ?? peers.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
    return { priority: peer.priority ?? 0, from: `${peer.file.path}:${peer.priorityLine}` };
  }
  const comment = instance.node.children.find((c) => c.keyword === 'priority')?.comment;
  const stated = comment ? /\b(\d{1,3})\b/.exec(comment) : null;
  if (stated) return { priority: Number(stated[1]), from: `stated in the comment on line ${instance.priorityLine}` };
  return undefined;
}
