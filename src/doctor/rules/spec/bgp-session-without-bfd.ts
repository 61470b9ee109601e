import { formatDuration } from '../../../spec/duration.js';
import { defineRule } from '../../context.js';
import { specLine } from './where.js';

/**
 * A session whose own bfd is off while the spec's is on: a router behind it keeps a dead host's route for the hold
 * time. validate already warns about bgp.bfd: false (every session); this is the same trap for one session, and
 * what bird/bgp-without-bfd finds in the bird.conf rendered from it.
 */
export const specBgpSessionWithoutBfd = defineRule({
  id: 'spec/bgp-session-without-bfd',
  kind: 'spec',
  check(file) {
    const bgp = file.result.spec?.bgp;
    if (!bgp || !bgp.bfd) return [];
    const sessions = [
      ...bgp.peers.map((peer, index) => ({ peer, path: ['bgp', 'peers', index] as Array<string | number> })),
      ...bgp.hosts.flatMap((host, h) => host.peers.map((peer, index) => ({ peer, path: ['bgp', 'hosts', h, 'peers', index] as Array<string | number> }))),
    ];
    return sessions.filter(({ peer }) => !peer.bfd).map(({ peer, path }) => ({
      severity: 'warning' as const,
      line: specLine(file, [...path, 'bfd'], path),
      message: `the session with ${peer.name} (${path.join('.').replace(/\.(\d+)/g, '[$1]')}) runs without BFD: a silent host keeps its route there for the hold time, ${formatDuration(bgp.holdTimeMs)}`,
      why: 'a killed speaker closes its TCP session at once, but a dead host or a cut link sends nothing: without BFD the router keeps sending clients to it until the hold timer expires (BFD 100 ms x 3 withdrew it in 0.2-0.4 s, BENCHMARKS.md)',
      source: 'BENCHMARKS.md (BGP failover) ; docs/bgp.md',
      fix: 'remove bfd: false from this peer (and enable BFD for this neighbour on the router), or lower bgp.holdTime',
    }));
  },
});
