import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { inherited, label, protocols } from '../../parsers/bird.js';

/** BIRD's default hold time (RFC 4271 suggests 90 s; BIRD uses 240 s). */
const BIRD_DEFAULT_HOLD_S = 240;

/** A BGP session without BFD notices a silent peer only when the hold time runs out; BFD without a bfd protocol never starts. */
export const birdBgpWithoutBfd = defineRule({
  id: 'bird/bgp-without-bfd',
  kind: 'bird',
  check(file) {
    const hasBfdProtocol = protocols(file.config, 'bfd').some((n) => n.words[0] === 'protocol');
    return protocols(file.config, 'bgp').filter((n) => n.words[0] === 'protocol').flatMap((session): RuleFinding[] => {
      const bfd = inherited(file.config, session, 'bfd');
      const on = bfd !== undefined && (bfd.children.length > 0 || ['on', 'yes', 'graceful'].includes(bfd.words[1] ?? 'on'));
      if (on && !hasBfdProtocol) {
        return [{
          severity: 'error' as const, line: bfd.line,
          message: `${label(session)} asks for BFD, but the file has no "protocol bfd"`,
          why: 'BIRD runs BFD sessions only inside a bfd protocol instance: without one the session never gets BFD, and a silent peer is noticed only at the hold time',
          source: 'BIRD 2 user guide, "BFD" and "BGP: bfd" ; docs/bgp.md',
          fix: 'add protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; } (render bird writes it)',
        }];
      }
      if (on) return [];
      const hold = inherited(file.config, session, 'hold', 'time');
      const holdS = Number(hold?.words[2] ?? BIRD_DEFAULT_HOLD_S);
      return [{
        severity: 'warning' as const, line: session.line,
        message: `${label(session)} has no BFD: a peer that goes silent (power loss, cut link) keeps its route for the hold time, ${holdS} s${hold ? '' : ' (BIRD\'s default)'}`,
        why: 'a killed speaker closes its TCP session at once, but a dead host or a cut link sends nothing: without BFD the router keeps sending clients to it until the hold timer expires (measured: 9 s hold time gave a 6-10 s cut-off; BFD 100 ms x 3 gave 0.2-0.4 s, BENCHMARKS.md)',
        source: 'BENCHMARKS.md (BGP failover) ; docs/bgp.md',
        fix: 'add bfd on; to the session (and protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; }), with BFD enabled for the neighbour on the router; at least lower hold time (e.g. 9) and keepalive time (3)',
      }];
    });
  },
});
