import { FlowSync } from '../dataplane/kernel/sync.js';
import type { Spec } from '../spec/types.js';
import { SyncedAnnouncer } from '../vip/announcers/synced.js';
import { defaultAnnouncer, selectSelf, VipManager } from '../vip/manager.js';
import type { VipFactory } from './daemon.js';

/**
 * The daemon holds the VIP when the spec lists peers: this host is the peer named by --peer, or the one
 * whose address is local (selectSelf says clearly when neither is found). In balancer.mode kernel with
 * vip.sync.flows, conntrackd keeps the peers' flow state in step and acts when the VIP moves.
 */
export function vipFactory(peer?: string): VipFactory {
  return (spec: Spec, healthy, logger) => {
    if (!spec.vip || spec.vip.peers.length === 0) return undefined;
    const self = selectSelf(spec.vip, peer);
    const sync = spec.vip.sync?.flows && spec.vip.peers.length > 1 ? new FlowSync(spec.vip, self, logger) : undefined;
    const announcer = sync ? new SyncedAnnouncer(defaultAnnouncer(spec.vip, self, logger), sync) : undefined;
    const manager = new VipManager({ vip: spec.vip, self, healthy, logger, ...(announcer ? { announcer } : {}) });
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
