import { FlowSync } from '../dataplane/kernel/sync.js';
import type { Logger } from '../log.js';
import { vipForPeer } from '../spec/hosts.js';
import type { Peer, Spec, Vip } from '../spec/types.js';
import type { Announcer } from '../vip/announcers/announcer.js';
import { SyncedAnnouncer } from '../vip/announcers/synced.js';
import { defaultAnnouncer, selectSelf, VipManager } from '../vip/manager.js';
import type { VipFactory } from './daemon.js';

/**
 * How this host puts the VIP up and announces it. With balancer.mode kernel the new holder announces a takeover
 * with the gratuitous ARP only (when arping is installed), which every neighbour follows at once. The kernel's
 * quicker ARP announcement moves only some (not those whose entry for the VIP changed in the last second), and
 * while they are split between the new holder and an old one whose kernel still forwards (a planned stop's
 * grace, a crashed serve's table), a new connection's SYN goes through one host and the server's reply to the
 * other, which resets it. The proxy answers from either host, so it keeps the quicker announcement.
 */
export function announcerFor(spec: Pick<Spec, 'balancer'> & { vip: Vip }, self: Peer, logger: Logger): Announcer {
  return defaultAnnouncer(spec.vip, self, logger, { gratuitousOnly: spec.balancer.mode === 'kernel' });
}

/**
 * The daemon holds the VIP when the spec lists peers: this host is the peer named by --peer, or the one
 * whose address is local (selectSelf says clearly when neither is found). In balancer.mode kernel with
 * vip.sync.flows, conntrackd keeps the peers' flow state in step and acts when the VIP moves.
 */
export function vipFactory(peer?: string): VipFactory {
  return (spec: Spec, health, logger) => {
    if (!spec.vip || spec.vip.peers.length === 0) return undefined;
    const self = selectSelf(spec.vip, peer);
    // This host's view: its own interface (vip.peers[].interface) for the VIP and the flow sync.
    const vip = vipForPeer(spec.vip, self);
    const sync = vip.sync?.flows && vip.peers.length > 1 ? new FlowSync(vip, self, logger, spec.cluster.name) : undefined;
    const announcer = announcerFor({ balancer: spec.balancer, vip }, self, logger);
    const manager = new VipManager({ vip, self, health, logger, port: vip.port, announcer: sync ? new SyncedAnnouncer(announcer, sync) : announcer });
    if (!sync) return manager;
    return {
      start: () => manager.start(),
      async stop() {
        await manager.stop();
        await sync.stop();
      },
      snapshot: () => ({ ...manager.snapshot(), sync: sync.snapshot() }),
    };
  };
}
