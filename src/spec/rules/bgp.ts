import { isIP } from 'node:net';
import { formatDuration, parseDuration } from '../duration.js';
import type { Problem } from '../problem.js';
import { entries, record, text, type Rule } from './rule.js';

const RANGES = {
  bfdInterval: { minMs: 10, maxMs: 10_000 },
  holdTime: { minMs: 3000, maxMs: 65_535_000 },
  withdrawDelay: { minMs: 0, maxMs: 60_000 },
} as const;

/** AS_TRANS (RFC 6793) stands in for a 4-byte ASN on old speakers; no network uses it as its own. */
const AS_TRANS = 23456;

/**
 * The endpoint is announced as a host route, so it is an address (not a name) of the peers' family; each host
 * has its own router id; hold time is whole seconds (BGP's unit) and 3 s or more (RFC 4271); and the routing
 * mode is not mixed with a VIP, which would put the same address on eth0 of one host and on lo of all.
 */
export const bgp: Rule = {
  id: 'bgp',
  check(raw) {
    const problems: Problem[] = [];
    if (raw.bgp === undefined) return problems;
    const section = record(raw.bgp);
    const endpoint = text(raw.endpoint);
    const family = endpoint === undefined ? 0 : isIP(endpoint);
    if (endpoint !== undefined && family === 0) {
      problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: 'endpoint', message: `"${endpoint}" is a name; bgp announces the endpoint as a host route, so it must be an address`, hint: 'set endpoint to the anycast address (IPv4 or IPv6) every LB host announces, and point the DNS name at it' });
    }
    for (const asnPath of ['localAsn'] as const) {
      if (section[asnPath] === AS_TRANS) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `bgp.${asnPath}`, message: '23456 is AS_TRANS, reserved for 2-byte speakers', hint: 'use a private ASN such as 65010 (64512-65534) or 4200000000-4294967294' });
    }
    const routerId = text(section.routerId);
    if (routerId !== undefined && routerId !== 'auto' && isIP(routerId) !== 4) {
      problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'bgp.routerId', message: `"${routerId}" is neither auto nor an IPv4 address`, hint: 'write auto (each host uses its lowest IPv4 address outside lo) or this host\'s IPv4 address' });
    }
    if (routerId !== undefined && routerId === endpoint) {
      problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'bgp.routerId', message: 'the router id is the endpoint, which every LB host shares', hint: 'the router id must differ per host: use auto' });
    }
    const names = new Set<string>();
    const addresses = new Set<string>();
    for (const [index, peer] of entries(section.peers)) {
      const path = `bgp.peers[${index}]`;
      const address = text(peer.address);
      if (address !== undefined) {
        const peerFamily = isIP(address);
        if (peerFamily === 0) problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `"${address}" is not an IP address`, hint: 'a BGP peer is written as the router\'s address on the link to this host' });
        else if (family !== 0 && peerFamily !== family) problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: `${path}.address`, message: `peer ${address} is IPv${peerFamily} and the endpoint IPv${family}`, hint: 'peer over the endpoint\'s family (an IPv6 endpoint over IPv6 sessions), so the route\'s next hop is this host\'s address on the link' });
        else if (address === endpoint) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.address`, message: 'the peer is the endpoint itself', hint: 'write the router\'s own address' });
        if (addresses.has(address)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `${path}.address`, message: `peer address ${address} is used twice`, hint: 'list each router once' });
        addresses.add(address);
      }
      const name = text(peer.name);
      if (name !== undefined) {
        if (names.has(name)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `${path}.name`, message: `peer name "${name}" is used twice`, hint: 'give every peer a unique name' });
        names.add(name);
      }
      if (peer.asn === AS_TRANS) problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.asn`, message: '23456 is AS_TRANS, reserved for 2-byte speakers', hint: 'write the router\'s real ASN' });
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
    if (bind !== undefined && endpoint !== undefined && !['0.0.0.0', '::', endpoint].includes(bind)) {
      problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'balancer.bind', message: `with bgp the balancer must accept the endpoint ${endpoint}, but it binds ${bind}`, hint: `bind ${family === 6 ? '::' : '0.0.0.0'} or the endpoint itself` });
    }
    return problems;
  },
};
