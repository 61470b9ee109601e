import { defineRule } from '../../context.js';
import { instances, KEEPALIVED_MAN } from './instances.js';

/** track_script names a script no vrrp_script defines. */
export const keepalivedUnknownTrackScript = defineRule({
  id: 'keepalived/unknown-track-script',
  kind: 'keepalived',
  check(file) {
    return instances(file).flatMap((instance) => instance.tracked
      .filter((t) => !t.script)
      .map((t) => ({
        severity: 'error' as const,
        line: t.line,
        message: `vrrp_instance ${instance.name} tracks ${t.name}, but no vrrp_script ${t.name} is defined`,
        why: 'keepalived ignores the unknown script, so the instance tracks nothing and the VIP never moves when the balancer fails',
        source: KEEPALIVED_MAN,
        fix: `define vrrp_script ${t.name} { script "..." interval 2 weight ... } above the instance, or fix the name`,
      })));
  },
});
