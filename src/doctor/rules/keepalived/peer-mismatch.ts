import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { KEEPALIVED_MAN, peerPairs } from './instances.js';

const VRRP_SOURCE = 'https://www.rfc-editor.org/rfc/rfc3768#section-7.1 ("MUST verify that the Adver Interval in the packet is the same as the locally configured") ; https://github.com/acassen/keepalived/blob/master/keepalived/vrrp/vrrp.c ("advertisement interval mismatch", "ip address associated with VRID not present in advert")';

/**
 * Peers must agree on advert_int (VRRPv2 drops adverts with another interval: both become MASTER) and
 * on the VIP list (after a failover the new master holds only its own list).
 */
export const keepalivedPeerMismatch = defineRule({
  id: 'keepalived/peer-mismatch',
  kind: 'keepalived',
  check(file, context) {
    const found: RuleFinding[] = [];
    for (const [instance, peer] of peerPairs(file, context.files)) {
      if (peer.advertInt !== instance.advertInt) {
        found.push({
          severity: 'error', line: instance.advertIntLine ?? instance.node.line,
          message: `vrrp_instance ${instance.name} adverts every ${instance.advertInt}s, its peer ${peer.name} in ${peer.file.path} every ${peer.advertInt}s`,
          why: 'VRRP (version 2, keepalived\'s default) discards adverts whose interval differs from its own: neither node hears the other, both become MASTER and both hold the VIP',
          source: `${VRRP_SOURCE} ; ${KEEPALIVED_MAN}`,
          fix: `use the same advert_int on every peer (e.g. advert_int ${Math.min(instance.advertInt, peer.advertInt)})`,
        });
      }
      const missing = instance.vips.filter((v) => !peer.vips.some((w) => w.address === v.address));
      if (missing.length > 0) {
        found.push({
          severity: 'warning', line: missing[0].line,
          message: `vrrp_instance ${instance.name} holds ${missing.map((v) => v.address).join(', ')}, which its peer ${peer.name} in ${peer.file.path} does not`,
          why: `when ${peer.name} takes over it brings up only its own virtual_ipaddress list: ${missing.map((v) => v.address).join(', ')} disappear on failover (keepalived logs "ip address associated with VRID ... not present in advert")`,
          source: `${VRRP_SOURCE} ; ${KEEPALIVED_MAN}`,
          fix: 'give every peer the same virtual_ipaddress list',
        });
      }
    }
    return found;
  },
});
