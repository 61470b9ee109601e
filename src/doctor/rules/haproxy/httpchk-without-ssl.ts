import { API_PORTS } from '../../../spec/listener-role.js';
import { defineRule } from '../../context.js';
import { servers } from '../../parsers/haproxy.js';
import { apiOf, checkInEffect, checkPort, checksWithSsl, HAPROXY_DOCS, serverCount, serverHas } from './backends.js';

/**
 * `option httpchk` sends plain HTTP; kube-apiserver (6443) and apid (50000) speak only TLS, so without
 * `check-ssl` (or `ssl`) every check fails and HAProxy marks every server DOWN at once.
 */
export const haproxyHttpchkWithoutSsl = defineRule({
  id: 'haproxy/httpchk-without-ssl',
  kind: 'haproxy',
  check(file) {
    const config = file.config;
    return config.sections.flatMap((section) => {
      if (section.kind !== 'backend' && section.kind !== 'listen') return [];
      const check = checkInEffect(config, section);
      if (check.directive?.words[1] !== 'httpchk') return [];
      const api = apiOf(config, section);
      const plain = servers(section).filter((server) => {
        if (server.flags.includes('no-check') || !serverHas(config, section, server, 'check')) return false;
        const port = checkPort(config, section, server);
        const tls = port !== undefined ? API_PORTS.has(port) : api !== undefined;
        return tls && !checksWithSsl(config, section, server);
      });
      if (plain.length === 0) return [];
      return [{
        severity: 'error' as const,
        line: plain[0].line,
        message: `${section.kind} ${section.name}: ${plain.reduce((n, s) => n + serverCount(s), 0)} server(s) get ${check.text} in plain HTTP on a TLS port (no check-ssl)`,
        why: 'kube-apiserver (6443) and apid (50000) speak only TLS: a plain HTTP check gets no valid answer, so HAProxy marks every server DOWN at once and the endpoint refuses all connections',
        source: `${HAPROXY_DOCS}#5.2-check-ssl ; ${HAPROXY_DOCS}#4-option%20httpchk`,
        fix: 'add "check-ssl verify none" (or "verify required ca-file <cluster CA>") to the server lines, e.g. once as "default-server check check-ssl verify none"',
      }];
    });
  },
});
