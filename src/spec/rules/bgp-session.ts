import { isIP } from 'node:net';
import { formatDuration, parseDuration } from '../duration.js';
import type { Problem } from '../problem.js';
import { bgpView, isLinkLocal, splitZone } from './bgp-view.js';
import { text, type Rule } from './rule.js';

/** A zone is an interface name: what BIRD's `interface "…"` and the kernel take (IFNAMSIZ - 1 characters). */
const ZONE = /^[^\s/%"\\]{1,15}$/;

/**
 * Each session can be opened as written: a link-local router names the interface it is on (BIRD refuses the
 * file otherwise), a multihop session with BFD has a source address (BIRD needs one for a multihop BFD session),
 * a source address is of the peer's family and is this host's own (never the shared endpoint), and a session's
 * BFD interval is one BIRD and routers accept.
 */
export const bgpSession: Rule = {
  id: 'bgp-session',
  check(raw) {
    const problems: Problem[] = [];
    if (raw.bgp === undefined) return problems;
    const view = bgpView(raw);
    const announced = new Set(view.announced.map((a) => a.address));
    const bfdDefault = view.section.bfd !== false;
    for (const { path, peer } of [...view.shared, ...view.hosts.flatMap((h) => h.own)]) {
      const address = text(peer.address);
      const { ip, zone, family } = splitZone(address ?? '');
      if (address !== undefined && family === 6) {
        if (isLinkLocal(ip) && zone === undefined) {
          problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `${address} is link-local: it exists on every link, so the session needs the interface the router is on`, hint: `write it with the interface: ${ip}%eth0 (per host in bgp.hosts[].peers when the interface names differ)` });
        } else if (zone !== undefined && !isLinkLocal(ip)) {
          problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `${address}: an interface (%${zone}) is only written after a link-local address (fe80::/10)`, hint: `write ${ip}` });
        } else if (zone !== undefined && !ZONE.test(zone)) {
          problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `"${zone}" is not an interface name`, hint: 'write the interface toward the router as `ip link` shows it, e.g. fe80::1%eth0 (at most 15 characters)' });
        }
      }
      const multihop = typeof peer.multihop === 'number' ? peer.multihop : undefined;
      const source = text(peer.sourceAddress);
      if (multihop !== undefined && family === 6 && isLinkLocal(ip)) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.multihop`, message: 'a link-local router is on this host\'s link: it is one hop away', hint: 'remove multihop, or peer with the router\'s routed address' });
      }
      const bfd = typeof peer.bfd === 'boolean' ? peer.bfd : bfdDefault;
      if (multihop !== undefined && bfd && source === undefined) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.sourceAddress`, message: 'a multihop session with BFD needs the address this host sends from (BIRD opens a multihop BFD session only from a known address)', hint: `set ${path}.sourceAddress to this host's address toward the router (per host in bgp.hosts[].peers), or bfd: false for this peer` });
      }
      if (source !== undefined) {
        const sourceFamily = isIP(source);
        if (sourceFamily === 0) {
          problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.sourceAddress`, message: `"${source}" is not an IP address`, hint: 'write this host\'s address the session is opened from' });
        } else if (family !== 0 && sourceFamily !== family) {
          problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.sourceAddress`, message: `${source} is IPv${sourceFamily} and the peer ${address} IPv${family}`, hint: 'a session is opened from an address of the peer\'s family' });
        } else if (announced.has(source)) {
          problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.sourceAddress`, message: `${source} is the endpoint, which every LB host carries`, hint: 'open the session from this host\'s own address (one per host: bgp.hosts[].peers)' });
        }
      }
      const interval = typeof peer.bfdInterval === 'string' ? parseDuration(peer.bfdInterval) : undefined;
      if (interval !== undefined && (interval < 10 || interval > 10_000)) {
        problems.push({ code: 'SPEC_DURATION', severity: 'error', path: `${path}.bfdInterval`, message: `${formatDuration(interval)} is out of range`, hint: 'use a value from 10ms to 10s' });
      }
    }
    return problems;
  },
};
