import type { Spec } from '../spec/types.js';
import { selectSelf, VipManager } from '../vip/manager.js';
import type { VipFactory } from './daemon.js';

/**
 * The daemon holds the VIP when the spec lists peers: this host is the peer named by --peer, or the one
 * whose address is local (selectSelf says clearly when neither is found).
 */
export function vipFactory(peer?: string): VipFactory {
  return (spec: Spec, healthy, logger) => {
    if (!spec.vip || spec.vip.peers.length === 0) return undefined;
    return new VipManager({ vip: spec.vip, self: selectSelf(spec.vip, peer), healthy, logger });
  };
}
