import { defineRule } from '../../context.js';
import { label, option, protocols } from '../../parsers/bird.js';

/** On the router: BGP routes learnt from several LB hosts and a kernel protocol without `merge paths`: one path wins. */
export const birdNoMergePaths = defineRule({
  id: 'bird/no-merge-paths',
  kind: 'bird',
  check(file) {
    const sessions = protocols(file.config, 'bgp').filter((n) => n.words[0] === 'protocol');
    if (sessions.length < 2) return [];
    return protocols(file.config, 'kernel').filter((n) => n.words[0] === 'protocol').flatMap((kernel) => {
      const merge = option(kernel, 'merge', 'paths');
      if (merge && !['off', 'no'].includes(merge.words[2] ?? 'on')) return [];
      return [{
        severity: 'warning' as const, line: merge?.line ?? kernel.line,
        message: `${label(kernel)} installs one path per prefix: with ${sessions.length} BGP sessions the endpoint goes to one LB host only`,
        why: 'anycast needs the router to install every equal route (ECMP) so clients spread over the LB hosts; without merge paths BIRD picks a single best route and the other hosts only wait',
        source: 'BIRD 2 user guide, "Kernel: merge paths" ; docs/bgp.md',
        fix: 'add merge paths on; to the kernel protocol (and on Linux net.ipv4.fib_multipath_hash_policy=1 so flows spread by port too)',
      }];
    });
  },
});
