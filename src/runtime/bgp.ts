import { networkInterfaces } from 'node:os';
import { BgpAnnouncer } from '../bgp/announcer.js';
import { bgpForHost, selectBgpHost } from '../spec/hosts.js';
import type { Spec } from '../spec/types.js';
import type { AnnouncerFactory } from './daemon.js';

/**
 * The daemon announces the endpoint with BGP when the spec has a bgp section (docs/bgp.md), as this host: the
 * bgp.hosts entry named by --peer, or the one whose router id or a source address is local.
 */
export function bgpFactory(peer?: string): AnnouncerFactory {
  return (spec: Spec, health, logger) => {
    if (!spec.bgp) return undefined;
    const host = selectBgpHost(spec.bgp, peer, isLocalAddress);
    return new BgpAnnouncer({ addresses: spec.bgp.addresses, bgp: bgpForHost(spec.bgp, host), health, logger, source: spec.source });
  };
}

function isLocalAddress(address: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address));
}
