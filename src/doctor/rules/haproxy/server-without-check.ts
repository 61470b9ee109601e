import { defineRule } from '../../context.js';
import { proxies, servers } from '../../parsers/haproxy.js';
import { serverHas } from './backends.js';

/** A server without `check` is never marked down: a dead node keeps receiving its share of connections. */
export const haproxyServerWithoutCheck = defineRule({
  id: 'haproxy/server-without-check',
  kind: 'haproxy',
  check(file) {
    return proxies(file.config).flatMap((section) => servers(section)
      .filter((server) => !serverHas(file.config, section, server, 'check') || server.words.includes('no-check'))
      .map((server) => ({
        severity: 'error' as const,
        line: server.line,
        message: `server ${server.words[1] ?? ''} in ${section.kind} ${section.name} has no "check"`,
        why: 'without check HAProxy never marks the server down, so while that node is off every connection balanced to it fails',
        source: 'https://docs.haproxy.org/2.6/configuration.html#5.2-check',
        fix: 'add "check" to the server line (or "default-server check" once in the backend)',
      })));
  },
});
