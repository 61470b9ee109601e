import { defineRule } from '../../context.js';
import { allInstances, instances, KEEPALIVED_MAN, peersOf } from './instances.js';

/** Two peers that both start as MASTER with one priority: who holds the VIP depends on addresses, not on intent. */
export const keepalivedEqualMasters = defineRule({
  id: 'keepalived/equal-masters',
  kind: 'keepalived',
  check(file, context) {
    const all = allInstances(context.files);
    return instances(file).flatMap((instance) => {
      if (instance.state !== 'MASTER' || instance.priority === undefined) return [];
      const twin = peersOf(instance, all).find((p) => p.state === 'MASTER' && p.priority === instance.priority);
      if (!twin) return [];
      return [{
        severity: 'warning' as const,
        line: instance.priorityLine,
        message: `vrrp_instance ${instance.name} and its peer ${twin.name} in ${twin.file.path} are both state MASTER with priority ${instance.priority}`,
        why: 'with equal priorities VRRP picks the master by the higher IP address, so the node meant to be MASTER may not be; both send adverts at start and the VIP moves once more than needed',
        source: `https://www.rfc-editor.org/rfc/rfc3768#section-6.4.3 (equal priority: the higher primary address wins) ; ${KEEPALIVED_MAN}`,
        fix: 'give the intended master the higher priority (e.g. 100 and 90), and the other node state BACKUP',
      }];
    });
  },
});
