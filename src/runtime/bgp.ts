import { BgpAnnouncer } from '../bgp/announcer.js';
import { isLocalAddress, localAddresses, type LocalAddress } from '../local-addresses.js';
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
    let local: LocalAddress[] | undefined;
    const host = selectBgpHost(spec.bgp, peer, (address) => isLocalAddress(address, (local ??= localAddresses())));
    return new BgpAnnouncer({ addresses: spec.bgp.addresses, bgp: bgpForHost(spec.bgp, host), health, logger, source: spec.source });
  };
}
