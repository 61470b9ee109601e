import { defineRule, versionAtLeast } from '../../context.js';
import { effective, proxies, servers } from '../../parsers/haproxy.js';

/** HAProxy 3.3 changed the default algorithm from roundrobin to random. */
export const haproxyBalanceDefault = defineRule({
  id: 'haproxy/balance-default',
  kind: 'haproxy',
  check(file, context) {
    const version = context.options.haproxyVersion ?? versionFromComments(file.config.comments);
    if (version && !versionAtLeast(version, '3.3')) return [];
    return proxies(file.config)
      .filter((section) => section.kind !== 'frontend' && servers(section).length > 0 && !effective(file.config, section, 'balance'))
      .map((section) => ({
        severity: version ? 'warning' as const : 'info' as const,
        line: section.line,
        message: `${section.kind} ${section.name} has no "balance" line${version ? ` (HAProxy ${version})` : ' (HAProxy version unknown)'}`,
        why: 'the default algorithm is roundrobin up to HAProxy 3.2 and random from 3.3 on: the same file balances differently after an upgrade',
        source: 'https://docs.haproxy.org/3.3/configuration.html#4.2-balance',
        fix: 'write "balance roundrobin" (or leastconn) in the backend or in defaults; pass --haproxy-version to doctor to check for a known version',
      }));
  },
});

/** "# haproxy 3.3", "# HAProxy version 2.6", "# for haproxy-3.3" */
export function versionFromComments(comments: ReadonlyArray<{ text: string }>): string | undefined {
  for (const comment of comments) {
    const match = /haproxy[\s-]*(?:version\s*)?v?(\d+\.\d+)/i.exec(comment.text);
    if (match) return match[1];
  }
  return undefined;
}
