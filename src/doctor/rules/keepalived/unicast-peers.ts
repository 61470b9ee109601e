import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { KEEPALIVED_MAN, peerPairs } from './instances.js';

const UNICAST_DOCS = `${KEEPALIVED_MAN} (unicast_src_ip, unicast_peer: "send adverts to these peers instead of multicast")`;

/**
 * Unicast VRRP works only when every peer sends to every other: one side on multicast and the other on
 * unicast, or a peer missing from a list, means adverts are not heard and both nodes become MASTER.
 */
export const keepalivedUnicastPeers = defineRule({
  id: 'keepalived/unicast-peers',
  kind: 'keepalived',
  check(file, context) {
    const found: RuleFinding[] = [];
    for (const [instance, peer] of peerPairs(file, context.files)) {
      if (instance.unicastPeers && !peer.unicastPeers) {
        found.push({
          severity: 'error', line: instance.unicastPeerLine ?? instance.node.line,
          message: `vrrp_instance ${instance.name} sends unicast adverts, but its peer ${peer.name} in ${peer.file.path} has no unicast_peer (it multicasts)`,
          why: 'a unicast instance drops adverts from addresses not in its unicast_peer list and the multicast side never receives the unicast ones: each node sees no master and both hold the VIP (split brain)',
          source: UNICAST_DOCS,
          fix: `configure unicast_src_ip and unicast_peer on ${peer.file.path} too (or on neither)`,
        });
        continue;
      }
      // Does the peer's list name this node? Only checkable when this node states its own address.
      if (instance.unicastSrc && peer.unicastPeers && !peer.unicastPeers.some((p) => p.address === instance.unicastSrc?.address)) {
        found.push({
          severity: 'error', line: instance.unicastSrc.line,
          message: `vrrp_instance ${instance.name} (unicast_src_ip ${instance.unicastSrc.address}) is missing from the unicast_peer list of ${peer.name} in ${peer.file.path} (${peer.unicastPeers.map((p) => p.address).join(', ') || 'empty'})`,
          why: 'keepalived ignores unicast adverts from sources outside its unicast_peer list, and sends only to the peers listed: the two nodes do not hear each other and both become MASTER',
          source: UNICAST_DOCS,
          fix: `add ${instance.unicastSrc.address} to unicast_peer in ${peer.file.path}`,
        });
      }
    }
    return found;
  },
});
