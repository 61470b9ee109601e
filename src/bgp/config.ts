// BIRD 2's configuration for announcing the endpoint: a pure function of the normalized spec (one host's view,
// src/spec/hosts.ts), used by serve's supervisor and by `render bird` alike (golden tests in test/golden/bird and
// test/golden/render). Each announced address is a static host route in a protocol of its own, written disabled:
// whoever knows the balancer's health (serve, or the health script next to HAProxy) enables them, and disabling
// them withdraws the routes from every session at once, without a reconfiguration.
import { isIP } from 'node:net';
import type { Bgp, BgpPeer } from '../spec/types.js';

/** The static protocol that carries the endpoint's host route (one address). */
export const ENDPOINT_PROTOCOL = 'endpoint';

export interface BirdConfigInput {
  /** The announced addresses (bgp.addresses): one, or an IPv4 and an IPv6 one. */
  addresses: readonly string[];
  /** One host's view of the bgp section. */
  bgp: Bgp;
  /** Where BIRD logs: stderr when serve runs it in the foreground, syslog for a BIRD run by systemd. */
  log: 'stderr' | 'syslog';
  /** Comment lines at the top (without '#'). */
  header: readonly string[];
  /** TCP MD5 passwords by peer name, read by serve from the peers' passwordFile. */
  passwords?: ReadonlyMap<string, string>;
}

export interface EndpointRoute {
  /** The static protocol's name: `endpoint`, or `endpoint4` / `endpoint6` for a dual-stack endpoint. */
  protocol: string;
  family: 'ipv4' | 'ipv6';
  prefix: string;
}

/** BIRD protocol names take letters, digits and '_'; spec names take letters, digits and '-'. */
export function peerProtocol(peer: Pick<BgpPeer, 'name'>): string {
  return `peer_${peer.name.replace(/-/g, '_')}`;
}

/** One static protocol per announced address. */
export function endpointRoutes(addresses: readonly string[]): EndpointRoute[] {
  return addresses.map((address) => {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return {
      protocol: addresses.length === 1 ? ENDPOINT_PROTOCOL : `${ENDPOINT_PROTOCOL}${family === 'ipv6' ? 6 : 4}`,
      family,
      prefix: `${address}/${family === 'ipv6' ? 128 : 32}`,
    };
  });
}

/** A peer's address without its zone, the zone (the interface toward a link-local router), and its family. */
export function peerAddress(peer: Pick<BgpPeer, 'address'>): { ip: string; zone?: string; family: 'ipv4' | 'ipv6' } {
  const at = peer.address.indexOf('%');
  const ip = at < 0 ? peer.address : peer.address.slice(0, at);
  return { ip, ...(at < 0 ? {} : { zone: peer.address.slice(at + 1) }), family: isIP(ip) === 6 ? 'ipv6' : 'ipv4' };
}

export function birdConfig(input: BirdConfigInput): string {
  const { bgp } = input;
  const routes = endpointRoutes(input.addresses);
  const holdS = Math.round(bgp.holdTimeMs / 1000);
  const keepaliveS = Math.max(1, Math.floor(holdS / 3));
  const lines = [
    ...input.header.map((line) => `# ${line}`.trimEnd()),
    '',
    `log ${input.log} all;`,
    // auto: the lowest IPv4 address outside lo, never the endpoint (which sits on lo of every host).
    bgp.routerId === 'auto' ? 'router id from -"lo", "*";' : `router id ${bgp.routerId};`,
    '',
    'protocol device {',
    '  scan time 10;',
    '}',
    '',
  ];
  for (const route of routes) {
    lines.push(
      `# ${routes.length === 1 ? 'The endpoint' : `The endpoint's ${route.family === 'ipv6' ? 'IPv6' : 'IPv4'} address`} as a host route; enabled while the balancer can serve, disabled (withdrawn) otherwise.`,
      `protocol static ${route.protocol} {`,
      '  disabled;',
      `  ${route.family};`,
      `  route ${route.prefix} blackhole;`,
      '}',
      '',
    );
  }
  if (bgp.peers.some((p) => p.bfd)) {
    lines.push(
      `# BFD: a peer that goes silent is down after ${bgp.bfdIntervalMs} ms x ${bgp.bfdMultiplier}${bgp.peers.some((p) => p.bfd && !sameBfd(p, bgp)) ? ' (sessions that say otherwise below)' : ''}.`,
      'protocol bfd {',
      // With source addresses (several speakers on one host), BFD listens on those addresses alone too: two BIRDs
      // on one wildcard UDP port would take each other's BFD packets and drop each other's sessions.
      ...(bgp.peers.some((p) => p.sourceAddress !== undefined) ? ['  strict bind on;'] : []),
      '  interface "*" {',
      `    interval ${bgp.bfdIntervalMs} ms;`,
      `    multiplier ${bgp.bfdMultiplier};`,
      '  };',
      '}',
      '',
    );
  }
  const session = [
    `  local as ${bgp.localAsn};`,
    `  hold time ${holdS};`,
    `  keepalive time ${keepaliveS};`,
    '  connect retry time 5;',
    '  error wait time 1, 30;',
    // A speaker that dies must lose its route now, not keep it as stale for the restart time.
    '  graceful restart off;',
    '  long lived graceful restart off;',
    ...(bgp.bfd ? ['  bfd on;'] : []),
  ];
  const channel = (route: EndpointRoute) => [
    `  ${route.family} {`,
    '    import none;',
    `    export where proto = "${route.protocol}";`,
    '    next hop self;',
    '  };',
  ];
  // One family: one template. Both: the session settings once, and a template per family with its channel.
  const templateOf = new Map<string, string>();
  if (routes.length === 1) {
    lines.push('template bgp lb {', ...session, ...channel(routes[0]), '}', '');
    templateOf.set(routes[0].family, 'lb');
  } else {
    lines.push('template bgp lb {', ...session, '}', '');
    for (const route of routes) {
      const name = `lb${route.family === 'ipv6' ? 6 : 4}`;
      lines.push(`template bgp ${name} from lb {`, ...channel(route), '}', '');
      templateOf.set(route.family, name);
    }
  }
  for (const peer of bgp.peers) {
    const { ip, zone, family } = peerAddress(peer);
    const password = input.passwords?.get(peer.name);
    lines.push(
      `protocol bgp ${peerProtocol(peer)} from ${templateOf.get(family) ?? 'lb'} {`,
      `  description "${peer.name}";`,
      `  neighbor ${ip}${peer.port === 179 ? '' : ` port ${peer.port}`} as ${peer.asn};`,
      // A link-local router is reached through one interface; BIRD takes any name here (not after a '%').
      ...(zone !== undefined ? [`  interface "${zone}";`] : []),
      // Connect from this address and listen on it alone, so other speakers on the host can use port 179 elsewhere.
      ...(peer.sourceAddress !== undefined ? [`  source address ${peer.sourceAddress};`, '  strict bind on;'] : []),
      // BIRD takes an iBGP neighbor (same AS) for multihop unless told otherwise; the spec's default is one hop.
      ...(peer.multihop !== undefined ? [`  multihop ${peer.multihop};`] : peer.asn === bgp.localAsn ? ['  direct;'] : []),
      ...(password !== undefined ? ['  # TCP MD5 (RFC 2385), from the peer\'s passwordFile.', `  password "${password}";`] : []),
      ...bfdLines(peer, bgp),
      '}',
      '',
    );
  }
  return lines.join('\n');
}

function sameBfd(peer: BgpPeer, bgp: Bgp): boolean {
  return peer.bfdIntervalMs === bgp.bfdIntervalMs && peer.bfdMultiplier === bgp.bfdMultiplier;
}

/** What differs from the template: BFD off, or on with timers of its own (a multihop session always says its own). */
function bfdLines(peer: BgpPeer, bgp: Bgp): string[] {
  if (!peer.bfd) return bgp.bfd ? ['  bfd off;'] : [];
  if (sameBfd(peer, bgp) && peer.multihop === undefined) return bgp.bfd ? [] : ['  bfd on;'];
  return [`  bfd { interval ${peer.bfdIntervalMs} ms; multiplier ${peer.bfdMultiplier}; };`];
}
