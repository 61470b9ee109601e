import { formatDuration } from '../../../spec/duration.js';
import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { bindPorts, effective, haproxyTimeMs, proxies, servers, type HaproxyConfig, type HaproxySection, type ServerLine } from '../../parsers/haproxy.js';
import { driftFinding } from '../drift.js';
import { hostAndPort, serverKey } from './address.js';
import { serverSetting } from './backends.js';

/** HAProxy's defaults when a server line sets nothing: inter 2s, rise 2, fall 3. */
const HAPROXY_CHECK_DEFAULTS = { inter: 2000, rise: 2, fall: 3 };

/** haproxy.cfg against the spec: a frontend per listener, its servers, check timing, timeouts. */
export const haproxyDrift = defineRule({
  id: 'haproxy/drift',
  kind: 'haproxy',
  check(file, context) {
    const spec = context.spec;
    if (!spec) return [];
    const config = file.config;
    const found: RuleFinding[] = [];
    const inPath: HaproxySection[] = [];
    for (const listener of spec.listeners) {
      const front = proxies(config).find((p) => p.kind !== 'backend' && bindPorts(p).includes(listener.port));
      if (!front) {
        found.push(driftFinding(proxies(config)[0]?.line ?? 1, `listener ${listener.name}`, `port ${listener.port}`, 'has no frontend binding it'));
        continue;
      }
      const backend = front.kind === 'listen' ? front : proxies(config).find((p) => p.kind !== 'frontend' && p.name === effective(config, front, 'default_backend')?.words[1]);
      inPath.push(front, ...(backend && backend !== front ? [backend] : []));
      if (!backend) continue;
      const active = servers(backend).filter((s) => !s.flags.includes('backup'));
      const want = listener.servers.map((s) => serverKey(s.address, s.port)).sort();
      const have = active.map((s) => serverKey(...hostAndPort(s.address))).sort();
      if (want.join(' ') !== have.join(' ')) {
        found.push(driftFinding(active[0]?.line ?? backend.line, `${backend.kind} ${backend.name} (listener ${listener.name}) servers`, want.join(', ') || 'none', `has ${have.join(', ') || 'none'}`));
      }
      if (active[0]) found.push(...checkTiming(config, backend, active[0], listener.healthCheck));
    }
    // Timeouts of the proxies that carry the listeners, each directive once (defaults are shared).
    const seen = new Set<number>();
    for (const section of inPath) {
      const idle = effective(config, section, 'timeout', 'tunnel') ? 'tunnel' : section.kind === 'frontend' ? 'client' : 'server';
      for (const [which, expected, field] of [['connect', spec.balancer.connectTimeoutMs, 'connectTimeout'], [idle, spec.balancer.idleTimeoutMs, 'idleTimeout']] as const) {
        if (which === 'connect' && section.kind === 'frontend') continue;
        const directive = effective(config, section, 'timeout', which);
        const ms = haproxyTimeMs(directive?.words[2]);
        if (!directive || ms === undefined || ms === expected || seen.has(directive.line)) continue;
        seen.add(directive.line);
        found.push(driftFinding(directive.line, `timeout ${which}`, `${formatDuration(expected)} (balancer.${field})`, `has ${formatDuration(ms)}`));
      }
    }
    return found;
  },
});

function checkTiming(config: HaproxyConfig, backend: HaproxySection, server: ServerLine, check: { intervalMs: number; healthyThreshold: number; unhealthyThreshold: number }): RuleFinding[] {
  const found: RuleFinding[] = [];
  const compare = (keyword: 'inter' | 'rise' | 'fall', expected: number, show: (n: number) => string) => {
    const setting = serverSetting(config, backend, server, keyword);
    const value = setting ? (keyword === 'inter' ? haproxyTimeMs(setting.value) : Number(setting.value)) : HAPROXY_CHECK_DEFAULTS[keyword];
    if (value === undefined || value === expected) return;
    found.push(driftFinding(setting?.line ?? server.line, `${backend.kind} ${backend.name} check ${keyword}`, show(expected), setting ? `has ${show(value)}` : `sets none (HAProxy's default ${show(HAPROXY_CHECK_DEFAULTS[keyword])})`));
  };
  compare('inter', check.intervalMs, formatDuration);
  compare('rise', check.healthyThreshold, String);
  compare('fall', check.unhealthyThreshold, String);
  return found;
}
