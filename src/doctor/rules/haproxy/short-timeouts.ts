import { defineRule, type HaproxyFile } from '../../context.js';
import { bindPorts, defaultsOf, directives, effective, haproxyTimeMs, proxies, type HaproxyDirective, type HaproxySection } from '../../parsers/haproxy.js';

/** Below this, idle kubectl logs -f / exec / watches are cut (client-go pings idle HTTP/2 connections after 30 s). */
export const MIN_IDLE_TIMEOUT_MS = 35_000;

/** `timeout client` / `timeout server` under 35 s (with no longer `timeout tunnel`) cut long-lived API streams. */
export const haproxyShortTimeouts = defineRule({
  id: 'haproxy/short-timeouts',
  kind: 'haproxy',
  check(file) {
    const reported = new Map<number, HaproxyDirective>();
    for (const section of proxies(file.config)) {
      // HTTP-mode proxies (a stats page) are not in the API path; HAProxy's default mode is http.
      const mode = effective(file.config, section, 'mode')?.words[1] ?? 'http';
      if (mode === 'http' && !bindPorts(section).includes(6443)) continue;
      const tunnel = timeout(file, section, 'tunnel');
      if (tunnel && (haproxyTimeMs(tunnel.words[2]) ?? 0) >= MIN_IDLE_TIMEOUT_MS) continue;
      const sides = section.kind === 'frontend' ? ['client'] : section.kind === 'backend' ? ['server'] : ['client', 'server'];
      for (const side of sides) {
        const directive = timeout(file, section, side);
        const ms = haproxyTimeMs(directive?.words[2]);
        if (directive && ms !== undefined && ms < MIN_IDLE_TIMEOUT_MS) reported.set(directive.line, directive);
      }
    }
    return [...reported.values()].map((directive) => ({
      severity: 'warning' as const,
      line: directive.line,
      message: `timeout ${directive.words[1]} ${directive.words[2]} closes connections idle for ${directive.words[2]}`,
      why: 'kubectl logs -f, kubectl exec, port-forward and watches stay idle for long stretches; HAProxy closes them after this timeout, so sessions drop and watches restart',
      source: 'https://docs.haproxy.org/2.6/configuration.html#4-timeout%20tunnel ; https://github.com/kubernetes/kubeadm/blob/main/docs/ha-considerations.md',
      fix: 'add "timeout tunnel 1h" (or raise timeout client/server to at least 35s, better 1h) in the defaults section',
    }));
  },
});

function timeout(file: HaproxyFile, section: HaproxySection, which: string): HaproxyDirective | undefined {
  return directives(section, 'timeout', which).at(-1) ?? directives(defaultsOf(file.config, section), 'timeout', which).at(-1);
}
