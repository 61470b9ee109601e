import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/** A VIP with no peers is fine for a Talos VIP, but serve and keepalived need the LB hosts that share it. */
export const specVipWithoutPeers = defineRule({
  id: 'spec/vip-without-peers',
  kind: 'spec',
  check(file) {
    const vip = file.result.spec?.vip;
    if (!vip || vip.peers.length > 0) return [];
    return [{
      severity: 'info' as const,
      line: specLine(file, ['vip']),
      message: `vip ${vip.address} has no peers`,
      why: 'with no peers only `render talos` can use the VIP (the control-plane nodes elect its holder); `serve` and `render keepalived` need the LB hosts that share it, or the VIP has no failover',
      source: 'docs/spec.md (vip.peers)',
      fix: 'add vip.peers (name, address, priority) for each LB host, or ignore this when the VIP is a Talos VIP',
    }];
  },
});
