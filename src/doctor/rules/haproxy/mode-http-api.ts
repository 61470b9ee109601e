import { defineRule } from '../../context.js';
import { proxies, type HaproxySection } from '../../parsers/haproxy.js';
import { apiOf, HAPROXY_DOCS, modeOf } from './backends.js';

/**
 * `mode http` in front of kube-apiserver or apid: HAProxy then parses HTTP, so it either sees TLS bytes it
 * cannot parse, or (with `ssl crt` on the bind) terminates TLS itself — client certificates no longer reach
 * the API server and upgraded streams (exec, attach, port-forward) break. Reported once per `mode` line.
 */
export const haproxyModeHttpApi = defineRule({
  id: 'haproxy/mode-http-api',
  kind: 'haproxy',
  check(file) {
    const byLine = new Map<number, { sections: HaproxySection[]; api: string; inherited: boolean }>();
    for (const section of proxies(file.config)) {
      const api = apiOf(file.config, section);
      const { mode, directive } = modeOf(file.config, section);
      if (!api || mode !== 'http' || !directive) continue;
      const entry = byLine.get(directive.line) ?? { sections: [], api: api === 'kubernetes' ? 'the Kubernetes API' : 'the Talos API', inherited: !section.directives.includes(directive) };
      entry.sections.push(section);
      byLine.set(directive.line, entry);
    }
    return [...byLine].map(([line, { sections, api, inherited }]) => ({
      severity: 'error' as const,
      line,
      message: `mode http ${inherited ? 'is inherited by' : 'in'} ${sections.map((s) => `${s.kind} ${s.name}`).join(', ')}, which carr${sections.length > 1 ? 'y' : 'ies'} ${api}`,
      why: 'in http mode HAProxy parses HTTP: TLS from kubectl and talosctl is not HTTP, and if HAProxy terminates TLS instead, the client certificate never reaches the API server (authentication fails) and exec, attach and port-forward upgrades break',
      source: `${HAPROXY_DOCS}#4-mode ; https://github.com/kubernetes/kubeadm/blob/main/docs/ha-considerations.md#haproxy-configuration (mode tcp)`,
      fix: 'use "mode tcp" for the API frontends and backends (keep mode http only for a stats page)',
    }));
  },
});
