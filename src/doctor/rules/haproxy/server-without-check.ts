import { defineRule } from '../../context.js';
import { proxies, servers } from '../../parsers/haproxy.js';
import { serverHas } from './backends.js';

/**
 * A server without `check` is never marked down: a dead node keeps receiving its share of connections.
 * A `backup` server with an explicit `no-check` is a deliberate fail-open (used only when every checked
 * server is down, as an AWS NLB does), so it is not flagged.
 */
export const haproxyServerWithoutCheck = defineRule({
  id: 'haproxy/server-without-check',
  kind: 'haproxy',
  check(file) {
    return proxies(file.config).flatMap((section) => servers(section)
      .filter((server) => {
        const flags = server.flags;
        if (flags.includes('backup') && flags.includes('no-check')) return false;
        return flags.includes('no-check') || !serverHas(file.config, section, server, 'check');
      })
      .map((server) => ({
        severity: 'error' as const,
        line: server.line,
        message: `${server.directive.words[0]} ${server.name} in ${section.kind} ${section.name} has no "check"`,
        why: 'without check HAProxy never marks the server down, so while that node is off every connection balanced to it fails',
        source: 'https://docs.haproxy.org/2.6/configuration.html#5.2-check',
        fix: 'add "check" to the server line (or "default-server check" once in the backend)',
      })));
  },
});
