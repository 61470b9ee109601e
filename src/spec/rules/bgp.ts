import { isIP } from 'node:net';
import { formatDuration, parseDuration } from '../duration.js';
import type { Problem } from '../problem.js';
import { bgpView, splitZone } from './bgp-view.js';
import { record, text, type Rule } from './rule.js';

const RANGES = {
  bfdInterval: { minMs: 10, maxMs: 10_000 },
  holdTime: { minMs: 3000, maxMs: 65_535_000 },
  withdrawDelay: { minMs: 0, maxMs: 60_000 },
} as const;

/** AS_TRANS (RFC 6793) stands in for a 4-byte ASN on old speakers; no network uses it as its own. */
export const AS_TRANS = 23456;

/**
 * The endpoint is announced as host routes, so what is announced are addresses (not names), and each peer is of
 * a family announced; every host has a router to announce to, with names and addresses unique among its peers;
 * hold time is whole seconds (BGP's unit) and 3 s or more (RFC 4271); and the routing mode is not mixed with a
 * VIP, which would put the same address on eth0 of one host and on lo of all.
 */
export const bgp: Rule = {
  id: 'bgp',
  check(raw) {
    const problems: Problem[] = [];
    if (raw.bgp === undefined) return problems;
    const view = bgpView(raw);
    const { section } = view;
    const endpoint = text(raw.endpoint);
    const endpointFamily = endpoint === undefined ? 0 : isIP(endpoint);
    const addressesWritten = Array.isArray(section.addresses);
    if (endpoint !== undefined && endpointFamily === 0 && !addressesWritten) {
      problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: 'endpoint', message: `"${endpoint}" is a name; bgp announces the endpoint as a host route, so it must be an address`, hint: 'set endpoint to the anycast address (IPv4 or IPv6) every LB host announces, and point the DNS name at it (or list the addresses in bgp.addresses)' });
    }
    problems.push(...announcedAddresses(raw, view));
    const families = new Set(view.announced.map((a) => a.family));
    if (section.localAsn === AS_TRANS) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'bgp.localAsn', message: '23456 is AS_TRANS, reserved for 2-byte speakers', hint: 'use a private ASN such as 65010 (64512-65534) or 4200000000-4294967294' });

    const announcedText = new Set(view.announced.map((a) => a.address));
    for (const { path, peer } of [...view.shared, ...view.hosts.flatMap((h) => h.own)]) {
      const address = text(peer.address);
      if (address !== undefined) {
        const { ip, family } = splitZone(address);
        if (family === 0) problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `"${address}" is not an IP address`, hint: 'a BGP peer is written as the router\'s address on the link to this host' });
        else if (families.size > 0 && !families.has(family)) problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `peer ${address} is IPv${family} and the endpoint IPv${[...families].join(' and IPv')}`, hint: 'peer over the endpoint\'s family (an IPv6 endpoint over IPv6 sessions), so the route\'s next hop is this host\'s address on the link; for both families list an IPv4 and an IPv6 address in bgp.addresses' });
        else if (announcedText.has(ip)) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.address`, message: 'the peer is the endpoint itself', hint: 'write the router\'s own address' });
      }
      if (peer.asn === AS_TRANS) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.asn`, message: '23456 is AS_TRANS, reserved for 2-byte speakers', hint: 'write the router\'s real ASN' });
    }
    // BIRD names a session after its peer, and one router is one session: unique within what one host runs.
    const reported = new Set<string>();
    for (const host of view.perHost) {
      const names = new Set<string>();
      const addresses = new Set<string>();
      for (const { path, peer } of host.peers) {
        const address = text(peer.address);
        if (address !== undefined) {
          if (addresses.has(address) && !reported.has(`${path}.address`)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `${path}.address`, message: `peer address ${address} is used twice${view.hosts.length ? ` by ${host.label}` : ''}`, hint: 'list each router once (a host\'s own peers come on top of bgp.peers)' });
          reported.add(`${path}.address`);
          addresses.add(address);
        }
        const name = text(peer.name);
        if (name !== undefined) {
          if (names.has(name) && !reported.has(`${path}.name`)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `${path}.name`, message: `peer name "${name}" is used twice${view.hosts.length ? ` by ${host.label}` : ''}`, hint: 'give every peer of a host a unique name (a host\'s own peers come on top of bgp.peers)' });
          reported.add(`${path}.name`);
          names.add(name);
        }
      }
      if (host.peers.length === 0) {
        problems.push({ code: 'SPEC_REQUIRED', severity: 'error', path: host.path === 'bgp.peers' ? 'bgp.peers' : `${host.path}.peers`, message: host.path === 'bgp.peers' ? 'no router to announce the endpoint to' : `${host.label} has no router to announce the endpoint to`, hint: 'list the routers every host peers with in bgp.peers, or a host\'s own in bgp.hosts[].peers' });
      } else {
        for (const family of families) {
          if (host.peers.some((p) => splitZone(text(p.peer.address) ?? '').family === family)) continue;
          const what = view.announced.find((a) => a.family === family)!;
          problems.push({ code: 'SPEC_VALUE', severity: 'error', path: what.path, message: `${what.address} is IPv${family}, but ${host.path === 'bgp.peers' ? 'no peer' : `no peer of ${host.label}`} is IPv${family} to announce it to`, hint: `add a router reached over IPv${family} to ${host.path === 'bgp.peers' ? 'bgp.peers' : `bgp.peers or ${host.path}.peers`}, or announce only the other family` });
        }
      }
    }

    for (const [key, range] of Object.entries(RANGES)) {
      const value = section[key];
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      if (ms === undefined) continue;
      if (ms < range.minMs || ms > range.maxMs) {
        problems.push({ code: 'SPEC_DURATION', severity: 'error', path: `bgp.${key}`, message: `${formatDuration(ms)} is out of range`, hint: `use a value from ${formatDuration(range.minMs)} to ${formatDuration(range.maxMs)}` });
      } else if (key === 'holdTime' && ms % 1000 !== 0) {
        problems.push({ code: 'SPEC_DURATION', severity: 'error', path: 'bgp.holdTime', message: `${formatDuration(ms)} is not whole seconds`, hint: 'BGP carries the hold time in seconds: write e.g. 9s' });
      }
    }
    if (section.bfd === false) {
      const hold = typeof section.holdTime === 'string' ? parseDuration(section.holdTime) ?? 9000 : 9000;
      problems.push({ code: 'SPEC_VALUE', severity: 'warning', path: 'bgp.bfd', message: `without BFD a host that dies without a word (power, cut link) keeps its route for the hold time (${formatDuration(hold)}): clients sent to it fail until then`, hint: 'enable bfd (and BFD for these peers on the routers) for sub-second failover' });
    }
    if (raw.vip !== undefined) {
      problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'bgp', message: 'bgp and vip both announce the endpoint: one host holding it on its segment, or every host routing it', hint: 'keep one: bgp for routed networks (no shared segment), vip for one L2 segment' });
    }
    const bind = text(record(raw.balancer).bind);
    if (bind !== undefined && view.announced.length > 0) {
      const accepts = bind === '::' || (bind === '0.0.0.0' && !families.has(6)) || (view.announced.length === 1 && bind === view.announced[0].address);
      if (!accepts) {
        const what = view.announced.map((a) => a.address).join(' and ');
        const fix = families.has(6) ? '::' : '0.0.0.0';
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'balancer.bind', message: `with bgp the balancer must accept the endpoint ${what}, but it binds ${bind}`, hint: `bind ${fix}${view.announced.length === 1 ? ' or the endpoint itself' : ' (both families)'}` });
      }
    }
    return problems;
  },
};

/** bgp.addresses: addresses, at most one per family, the endpoint among them when it is an address. */
function announcedAddresses(raw: Record<string, unknown>, view: ReturnType<typeof bgpView>): Problem[] {
  const problems: Problem[] = [];
  const list = view.section.addresses;
  if (!Array.isArray(list)) return problems;
  const seen = new Map<number, string>();
  list.forEach((value, index) => {
    if (typeof value !== 'string') return;
    const family = isIP(value);
    const path = `bgp.addresses[${index}]`;
    if (family === 0) {
      problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path, message: `"${value}" is not an IP address`, hint: 'bgp announces host routes: write the anycast IPv4 or IPv6 address' });
      return;
    }
    const first = seen.get(family);
    if (first) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path, message: `a second IPv${family} address (${first} is the first)`, hint: 'a dual-stack endpoint is one IPv4 and one IPv6 address; keep one per family' });
    else seen.set(family, value);
  });
  const endpoint = text(raw.endpoint);
  if (endpoint !== undefined && isIP(endpoint) !== 0 && !list.includes(endpoint)) {
    problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'endpoint', message: `the endpoint ${endpoint} is not one of bgp.addresses (${list.join(', ')})`, hint: 'clients use the endpoint: make it one of the announced addresses, or a DNS name whose A and AAAA records are them' });
  }
  return problems;
}
