import { defineRule } from '../../context.js';
import { isAtLeast112, legacyVips, targetVersion } from './machine-config.js';

/** machine.network.interfaces[].vip is deprecated from Talos 1.12 on (Layer2VIPConfig documents replace it). */
export const talosLegacyVip = defineRule({
  id: 'talos/legacy-vip',
  kind: 'talos',
  check(file, context) {
    const version = targetVersion(file, context);
    const newer = isAtLeast112(version);
    if (newer === false) return [];
    return legacyVips(file).map((vip) => ({
      severity: newer ? 'warning' as const : 'info' as const,
      line: vip.line,
      message: `the VIP ${vip.value} uses the legacy form machine.network.interfaces[].vip${version ? ` (targeting Talos ${version})` : ' (Talos version unknown)'}`,
      why: 'Talos 1.12 moved network settings to separate documents; the legacy machine.network.interfaces form is deprecated and planned for removal, so a config written today stops working on a later upgrade',
      source: 'https://www.talos.dev/v1.12/talos-guides/network/vip/ ; https://www.talos.dev/v1.12/introduction/what-is-new/',
      fix: 'use a Layer2VIPConfig document (apiVersion: v1alpha1, kind: Layer2VIPConfig, name: <VIP>, link: <interface>) — `cluster-endpoint render talos` writes it; pass --talos-version to doctor to state the target',
    }));
  },
});
