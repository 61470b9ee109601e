// The bgp section as the BGP rules read it: every peer list with its path (bgp.peers, bgp.hosts[i].peers), the
// peers each host ends up with (the shared ones and its own), and the addresses announced with their family.
// Read defensively: the rules run even when the schema found problems.
import { isIP } from 'node:net';
import { entries, record, text, type RawView } from './rule.js';

export interface PeerAt {
  path: string;
  peer: Record<string, unknown>;
}

export interface HostPeers {
  /** "host lb-01", or "every host" when the spec has no bgp.hosts. */
  label: string;
  path: string;
  peers: PeerAt[];
}

export interface Announced {
  path: string;
  address: string;
  family: 4 | 6;
}

export interface BgpView {
  section: Record<string, unknown>;
  shared: PeerAt[];
  hosts: Array<{ path: string; host: Record<string, unknown>; own: PeerAt[] }>;
  /** The peers of each host (shared + own); one entry for every host alike when there are no hosts. */
  perHost: HostPeers[];
  announced: Announced[];
}

export function bgpView(raw: RawView): BgpView {
  const section = record(raw.bgp);
  const shared = entries(section.peers).map(([index, peer]) => ({ path: `bgp.peers[${index}]`, peer }));
  const hosts = entries(section.hosts).map(([index, host]) => ({
    path: `bgp.hosts[${index}]`,
    host,
    own: entries(host.peers).map(([i, peer]) => ({ path: `bgp.hosts[${index}].peers[${i}]`, peer })),
  }));
  const perHost = hosts.length === 0
    ? [{ label: 'every host', path: 'bgp.peers', peers: shared }]
    : hosts.map((h) => ({ label: `host ${text(h.host.name) ?? h.path}`, path: h.path, peers: [...shared, ...h.own] }));
  return { section, shared, hosts, perHost, announced: announced(raw, section) };
}

/** bgp.addresses, or the endpoint when it is an address. */
function announced(raw: RawView, section: Record<string, unknown>): Announced[] {
  if (Array.isArray(section.addresses)) {
    return section.addresses.flatMap((value, index) => {
      const family = typeof value === 'string' ? isIP(value) : 0;
      return family === 4 || family === 6 ? [{ path: `bgp.addresses[${index}]`, address: value as string, family }] : [];
    });
  }
  const endpoint = text(raw.endpoint);
  const family = endpoint === undefined ? 0 : isIP(endpoint);
  return family === 4 || family === 6 ? [{ path: 'endpoint', address: endpoint!, family }] : [];
}

/** An address with an optional zone (fe80::1%eth0): the address, the zone, the family (0 when not an IP). */
export function splitZone(address: string): { ip: string; zone?: string; family: 0 | 4 | 6 } {
  const at = address.indexOf('%');
  const ip = at < 0 ? address : address.slice(0, at);
  const zone = at < 0 ? undefined : address.slice(at + 1);
  const family = isIP(ip);
  return { ip, ...(zone !== undefined ? { zone } : {}), family: family === 4 || family === 6 ? family : 0 };
}

/** fe80::/10: reachable only on one link, so the interface must be named. */
export function isLinkLocal(ip: string): boolean {
  return isIP(ip) === 6 && /^fe[89ab][0-9a-f]:/i.test(expandFirstGroup(ip));
}

function expandFirstGroup(ip: string): string {
  const first = ip.split(':')[0];
  return `${first.padStart(4, '0')}:`;
}
