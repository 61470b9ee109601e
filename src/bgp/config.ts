// BIRD 2's configuration for announcing the endpoint: a pure function of the normalized spec, used by serve's
// supervisor and by `render bird` alike (golden tests in test/golden/bird and test/golden/render).
// The endpoint is a static host route in a protocol of its own, written disabled: whoever knows the balancer's
// health (serve, or the health script next to HAProxy) enables it, and disabling it withdraws the route from
// every session at once, without a reconfiguration.
import { isIP } from 'node:net';
import type { Bgp, BgpPeer } from '../spec/types.js';

/** The static protocol that carries the endpoint's host route. */
export const ENDPOINT_PROTOCOL = 'endpoint';

export interface BirdConfigInput {
  endpoint: string;
  bgp: Bgp;
  /** Where BIRD logs: stderr when serve runs it in the foreground, syslog for a BIRD run by systemd. */
  log: 'stderr' | 'syslog';
  /** Comment lines at the top (without '#'). */
  header: readonly string[];
}

/** BIRD protocol names take letters, digits and '_'; spec names take letters, digits and '-'. */
export function peerProtocol(peer: Pick<BgpPeer, 'name'>): string {
  return `peer_${peer.name.replace(/-/g, '_')}`;
}

export function birdConfig(input: BirdConfigInput): string {
  const { bgp, endpoint } = input;
  const family = isIP(endpoint) === 6 ? 'ipv6' : 'ipv4';
  const prefix = `${endpoint}/${family === 'ipv6' ? 128 : 32}`;
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
    '# The endpoint as a host route; enabled while the balancer can serve, disabled (withdrawn) otherwise.',
    `protocol static ${ENDPOINT_PROTOCOL} {`,
    '  disabled;',
    `  ${family};`,
    `  route ${prefix} blackhole;`,
    '}',
    '',
  ];
  if (bgp.bfd) {
    lines.push(
      `# BFD: a peer that goes silent is down after ${bgp.bfdIntervalMs} ms x ${bgp.bfdMultiplier}.`,
      'protocol bfd {',
      '  interface "*" {',
      `    interval ${bgp.bfdIntervalMs} ms;`,
      `    multiplier ${bgp.bfdMultiplier};`,
      '  };',
      '}',
      '',
    );
  }
  lines.push(
    'template bgp lb {',
    `  local as ${bgp.localAsn};`,
    `  hold time ${holdS};`,
    `  keepalive time ${keepaliveS};`,
    '  connect retry time 5;',
    '  error wait time 1, 30;',
    // A speaker that dies must lose its route now, not keep it as stale for the restart time.
    '  graceful restart off;',
    '  long lived graceful restart off;',
    ...(bgp.bfd ? ['  bfd on;'] : []),
    `  ${family} {`,
    '    import none;',
    `    export where proto = "${ENDPOINT_PROTOCOL}";`,
    '    next hop self;',
    '  };',
    '}',
    '',
  );
  for (const peer of bgp.peers) {
    lines.push(
      `protocol bgp ${peerProtocol(peer)} from lb {`,
      `  description "${peer.name}";`,
      `  neighbor ${peer.address}${peer.port === 179 ? '' : ` port ${peer.port}`} as ${peer.asn};`,
      '}',
      '',
    );
  }
  return lines.join('\n');
}
