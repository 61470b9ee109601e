// One spec for the whole fleet: shared settings plus each LB host's own (vip.peers[].interface, bgp.hosts[]).
// What one host runs is its view, merged here once, so serve and the per-host renderers read one shape and
// never merge on their own.
import { UserError } from '../errors.js';
import type { Bgp, BgpHost, Peer, Spec, Vip } from './types.js';

/** The VIP as `self` holds it: on its own interface, and syncing flows on it unless vip.sync.interface says otherwise. */
export function vipForPeer(vip: Vip, self: Peer): Vip {
  const iface = self.interface ?? vip.interface;
  return {
    ...vip,
    interface: iface,
    ...(vip.sync ? { sync: { ...vip.sync, interface: vip.sync.interfaceWritten ? vip.sync.interface : iface } } : {}),
  };
}

/** BGP as `host` runs it: its router id, the shared peers and its own. Without a host: the shared settings. */
export function bgpForHost(bgp: Bgp, host: BgpHost | undefined): Bgp {
  if (!host) return bgp;
  return { ...bgp, routerId: host.routerId ?? bgp.routerId, peers: [...bgp.peers, ...host.peers] };
}

/**
 * Which bgp.hosts entry this host is: the one named (serve --peer), else the one whose router id or a source
 * address of its own peers is a local address. Undefined when the spec has no hosts (every host runs the same).
 */
export function selectBgpHost(bgp: Bgp, explicit: string | undefined, isLocal: (address: string) => boolean): BgpHost | undefined {
  if (bgp.hosts.length === 0) return undefined;
  const names = bgp.hosts.map((h) => h.name).join(', ');
  if (explicit !== undefined) {
    const host = bgp.hosts.find((h) => h.name === explicit);
    if (!host) throw new UserError('BGP', `--peer ${explicit} is not one of bgp.hosts`, { hint: `use one of: ${names}`, exitCode: 2 });
    return host;
  }
  const matches = bgp.hosts.filter((h) => (h.routerId !== undefined && h.routerId !== 'auto' && isLocal(h.routerId)) || h.peers.some((p) => p.sourceAddress !== undefined && isLocal(p.sourceAddress)));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw new UserError('BGP', 'bgp.hosts: none of the hosts is this one (no routerId or sourceAddress of theirs is a local address)', { hint: `pass --peer NAME (one of: ${names})`, exitCode: 2 });
  throw new UserError('BGP', `bgp.hosts: several hosts match this one (${matches.map((h) => h.name).join(', ')})`, { hint: 'pass --peer NAME to choose one', exitCode: 2 });
}

/**
 * serve --peer NAME says which of the spec's LB hosts this one is (vip.peers, bgp.hosts): refused (USAGE, exit 2)
 * when the spec lists none, so that nothing would read it, or when a list it would be looked up in lacks the name.
 */
export function checkPeerFlag(spec: Pick<Spec, 'vip' | 'bgp'>, peer: string | undefined): void {
  if (peer === undefined) return;
  const lists = [
    { field: 'vip.peers', names: spec.vip?.peers.map((p) => p.name) ?? [] },
    { field: 'bgp.hosts', names: spec.bgp?.hosts.map((h) => h.name) ?? [] },
  ].filter((list) => list.names.length > 0);
  if (lists.length === 0) {
    throw new UserError('USAGE', `--peer ${peer}: the spec lists no LB hosts (neither vip.peers nor bgp.hosts), so --peer has nothing to choose from`, {
      hint: 'remove --peer: without vip.peers or bgp.hosts every LB host runs this spec alike; --peer NAME picks this host among vip.peers (a VIP the hosts share, docs/vip.md) or bgp.hosts (per-host BGP settings, docs/bgp.md)',
      exitCode: 2,
    });
  }
  for (const { field, names } of lists) {
    if (!names.includes(peer)) throw new UserError('USAGE', `--peer ${peer} is not one of ${field} (${names.join(', ')})`, { hint: `use one of: ${names.join(', ')}`, exitCode: 2 });
  }
}
