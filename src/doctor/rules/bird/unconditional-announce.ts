import { defineRule } from '../../context.js';
import { inherited, label, option, protocols } from '../../parsers/bird.js';

/**
 * A BGP session that exports a static route which is up from the moment BIRD starts announces the endpoint
 * whether or not the balancer beside it can serve; `export all` announces every route in the table.
 */
export const birdUnconditionalAnnounce = defineRule({
  id: 'bird/unconditional-announce',
  kind: 'bird',
  check(file) {
    const alwaysUp = protocols(file.config, 'static').filter((n) => n.words[0] === 'protocol' && !disabled(option(n, 'disabled')?.words));
    return protocols(file.config, 'bgp').filter((n) => n.words[0] === 'protocol').flatMap((session) => {
      const exported = inherited(file.config, session, 'export');
      if (!exported) return [];
      const text = exported.words.slice(1).join(' ');
      if (text === 'all') {
        return [{
          severity: 'warning' as const, line: exported.line,
          message: `${label(session)} exports every route in the table (export all)`,
          why: 'an LB host should announce the endpoint\'s host route and nothing else; export all also sends whatever else the table holds, and nothing ties it to the balancer\'s health',
          source: 'docs/bgp.md ; BIRD 2 user guide, "Channel options: export"',
          fix: 'export where proto = "endpoint"; with the endpoint in a static protocol of its own, started disabled and enabled by a health check (render bird writes both)',
        }];
      }
      const named = alwaysUp.find((s) => new RegExp(`proto\\s*=\\s*"${s.words[2]}"`).test(text));
      if (!named) return [];
      return [{
        severity: 'warning' as const, line: named.line,
        message: `${label(named)} is exported by ${label(session)} and is up as soon as BIRD starts: the route is announced whatever the balancer's health`,
        why: 'a host whose HAProxy is stopped or has no healthy server keeps attracting its share of clients (ECMP), and they fail',
        source: 'docs/bgp.md ; the reference guide\'s health-check advice applied to routing',
        fix: `start it withdrawn (disabled; in ${label(named)}) and let a health check run "birdc enable ${named.words[2]}" / "birdc disable ${named.words[2]}" (render bird writes that loop)`,
      }];
    });
  },
});

function disabled(words: string[] | undefined): boolean {
  return words !== undefined && ['yes', 'on', undefined].includes(words[1]);
}
