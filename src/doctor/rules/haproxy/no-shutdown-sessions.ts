import { defineRule } from '../../context.js';
import { proxies, servers } from '../../parsers/haproxy.js';
import { serverHas } from './backends.js';

/** Without `on-marked-down shutdown-sessions`, connections to a server marked down stay open. */
export const haproxyNoShutdownSessions = defineRule({
  id: 'haproxy/no-shutdown-sessions',
  kind: 'haproxy',
  check(file) {
    return proxies(file.config).flatMap((section) => {
      const missing = servers(section).filter((server) => !serverHas(file.config, section, server, 'on-marked-down', 'shutdown-sessions'));
      if (missing.length === 0) return [];
      return [{
        severity: 'warning' as const,
        line: missing[0].line,
        message: `${section.kind} ${section.name}: ${missing.length} server(s) keep their connections when marked down (no "on-marked-down shutdown-sessions")`,
        why: 'established connections to a dead node stay open until the client or server timeout: kubectl watches and exec sessions hang instead of reconnecting through a healthy node',
        source: 'https://docs.haproxy.org/2.6/configuration.html#5.2-on-marked-down',
        fix: 'add "default-server check on-marked-down shutdown-sessions" to the backend (or the flag to each server line)',
      }];
    });
  },
});
