import { formatDuration } from '../../../spec/duration.js';
import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { driftFinding } from '../drift.js';
import { instances } from './instances.js';

/** keepalived.conf against the spec's vip: address and prefix, virtual_router_id, advert_int, this host's priority, unicast peers. */
export const keepalivedDrift = defineRule({
  id: 'keepalived/drift',
  kind: 'keepalived',
  check(file, context) {
    const vip = context.spec?.vip;
    // A VIP without peers is a Talos VIP: keepalived has no part in it (talos/drift compares that).
    if (!vip || vip.peers.length === 0) return [];
    const all = instances(file);
    const instance = all.find((i) => i.vips.some((v) => v.address === vip.address));
    if (!instance) {
      return all.length === 0 ? [] : [driftFinding(all[0].node.line, 'the VIP', vip.address, `has no vrrp_instance holding it (${all.flatMap((i) => i.vips.map((v) => v.address)).join(', ') || 'no VIPs'})`)];
    }
    const found: RuleFinding[] = [];
    const entry = instance.vips.find((v) => v.address === vip.address);
    if (entry?.prefix !== undefined && entry.prefix !== vip.prefixLength) found.push(driftFinding(entry.line, `VIP ${vip.address} prefix`, `/${vip.prefixLength}`, `has /${entry.prefix}`));
    if (instance.virtualRouterId !== undefined && instance.virtualRouterId !== vip.virtualRouterId) {
      found.push(driftFinding(instance.node.line, `vrrp_instance ${instance.name} virtual_router_id`, String(vip.virtualRouterId), `has ${instance.virtualRouterId}`));
    }
    if (instance.advertInt * 1000 !== vip.advertIntervalMs) found.push(driftFinding(instance.advertIntLine ?? instance.node.line, `vrrp_instance ${instance.name} advert_int`, formatDuration(vip.advertIntervalMs), `has ${instance.advertInt}s`));
    const self = vip.peers.find((p) => p.address === instance.unicastSrc?.address);
    if (self && instance.priority !== undefined && instance.priority !== self.priority) {
      found.push(driftFinding(instance.priorityLine, `priority of ${self.name}`, String(self.priority), `has ${instance.priority}`));
    }
    if (self && vip.unicast && instance.unicastPeers) {
      const want = vip.peers.filter((p) => p !== self).map((p) => p.address).sort();
      const have = instance.unicastPeers.map((p) => p.address).sort();
      if (want.join(' ') !== have.join(' ')) found.push(driftFinding(instance.unicastPeerLine ?? instance.node.line, `unicast peers of ${self.name}`, want.join(', '), `has ${have.join(', ') || 'none'}`));
    }
    return found;
  },
});
