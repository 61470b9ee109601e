import { defineRule, type TalosFile } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { talosconfigEndpoints, TALOS_VIP_DOCS, vips } from './machine-config.js';

/** talosctl must not go through the Talos VIP: it exists only while etcd and the control plane are healthy. */
export const talosconfigEndpointVip = defineRule({
  id: 'talos/talosconfig-endpoint-vip',
  kind: 'talosconfig',
  check(file, context) {
    const known = new Set(context.files.filter((f): f is TalosFile => f.kind === 'talos').flatMap((f) => vips(f).map((v) => v.value)));
    // A spec VIP without peers is a Talos VIP (with peers it is an LB pair's VIP, which talosctl may use).
    if (context.spec?.vip && context.spec.vip.peers.length === 0) known.add(context.spec.vip.address);
    const found: RuleFinding[] = [];
    for (const { context: name, host, line } of talosconfigEndpoints(file)) {
      if (!known.has(host)) continue;
      found.push({
        severity: 'warning' as const,
        line,
        message: `talosconfig context ${name} uses the Talos VIP ${host} as endpoint`,
        why: 'the Talos VIP is elected through etcd: it is absent before bootstrap and whenever etcd or the control plane is broken — exactly when talosctl is needed to repair it',
        source: `${TALOS_VIP_DOCS} (Caveats: do not use the VIP as the talosctl endpoint)`,
        fix: 'list the control-plane node addresses as endpoints (talosctl config endpoint <cp-1> <cp-2> <cp-3>)',
      });
    }
    return found;
  },
});
