import { defineRule } from '../../context.js';
import { instances, KEEPALIVED_MAN } from './instances.js';

/** keepalived resolves track_script names while reading the file: a vrrp_script defined later is not found. */
export const keepalivedScriptAfterInstance = defineRule({
  id: 'keepalived/script-after-instance',
  kind: 'keepalived',
  check(file) {
    return instances(file).flatMap((instance) => instance.tracked
      .filter((t) => t.script && t.script.line > instance.node.line)
      .map((t) => ({
        severity: 'error' as const,
        line: t.script?.line ?? t.line,
        message: `vrrp_script ${t.name} is defined after vrrp_instance ${instance.name} (line ${instance.node.line}) that tracks it`,
        why: 'keepalived looks the script up when it reads the instance; defined later, it is reported as "track script ... not found" and ignored, so the VIP never moves when the check fails (measured with keepalived 2.2.7)',
        source: `${KEEPALIVED_MAN} ; docs/doctor.md (measured)`,
        fix: `move the vrrp_script ${t.name} block above vrrp_instance ${instance.name}`,
      })));
  },
});
