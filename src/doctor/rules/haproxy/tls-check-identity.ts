// What a verified TLS check proves about the server's identity. HAProxy (2.6, and 3.x at the time of writing)
// compares check-sni / verifyhost with the certificate's DNS names and common name only, never with its IP SANs
// (haproxy/haproxy#3249): measured in test/unit/render/haproxy.test.ts.
import { isIP } from 'node:net';
import { defineRule } from '../../context.js';
import type { HaproxyConfig, HaproxySection, ServerLine } from '../../parsers/haproxy.js';
import { inheritedList, proxies, servers } from '../../parsers/haproxy.js';
import { hostAndPort } from './address.js';
import { checksWithSsl, HAPROXY_DOCS, serverHas, serverSetting } from './backends.js';

const IP_SAN_ISSUE = 'https://github.com/haproxy/haproxy/issues/3249';

/** The servers of a proxy whose checks verify the certificate (verify required, HAProxy's default). */
function verifiedChecks(config: HaproxyConfig, section: HaproxySection): ServerLine[] {
  const global = config.sections.find((s) => s.kind === 'global');
  const verifyDefault = global?.directives.find((d) => d.words[0] === 'ssl-server-verify')?.words[1] ?? 'required';
  return servers(section).filter((server) => !server.flags.includes('no-check')
    && serverHas(config, section, server, 'check')
    && checksWithSsl(config, section, server)
    && (serverSetting(config, section, server, 'verify')?.value ?? verifyDefault) === 'required');
}

/**
 * An explicit `http-check connect` / `tcp-check connect` rule (without `default`) connects with its own settings:
 * the servers' check-sni is not sent (measured with HAProxy 2.6), its own `sni` is.
 */
function connectRule(config: HaproxyConfig, section: HaproxySection) {
  const rule = inheritedList(config, section, 'http-check', 'connect')[0] ?? inheritedList(config, section, 'tcp-check', 'connect')[0];
  return rule && !rule.words.includes('default') ? rule : undefined;
}

/** The name a check verifies: the SNI it sends (which wins), else verifyhost. */
function verifiedName(config: HaproxyConfig, section: HaproxySection, server: ServerLine): { value: string; line: number } | undefined {
  const rule = connectRule(config, section);
  const at = rule ? rule.words.indexOf('sni') : -1;
  const sni = rule
    ? (at >= 0 && rule.words[at + 1] ? { value: rule.words[at + 1].replace(/^str\((.*)\)$/, '$1'), line: rule.line } : undefined)
    : serverSetting(config, section, server, 'check-sni');
  return sni ?? serverSetting(config, section, server, 'verifyhost');
}

/** A check that verifies against an IP address never passes: every server is DOWN. */
export const haproxyVerifyhostIp = defineRule({
  id: 'haproxy/verifyhost-ip',
  kind: 'haproxy',
  check(file) {
    const config = file.config;
    return proxies(config).flatMap((section) => verifiedChecks(config, section).flatMap((server) => {
      const name = verifiedName(config, section, server);
      if (!name || isIP(name.value) === 0) return [];
      return [{
        severity: 'error' as const,
        line: name.line,
        message: `${section.kind} ${section.name}: the TLS check of ${server.name} verifies the certificate against the address ${name.value}, which never matches`,
        why: 'HAProxy compares check-sni and verifyhost with the certificate\'s DNS names only, never its IP SANs, so every check fails (Layer6 "certificate different from the configured one") and the server stays DOWN',
        source: `${HAPROXY_DOCS}#5.2-verifyhost ; ${IP_SAN_ISSUE} ; measured with HAProxy 2.6`,
        fix: 'use a DNS name the certificate carries (kube-apiserver\'s include "kubernetes"), or remove check-sni/verifyhost to verify the chain only',
      }];
    }));
  },
});

/** A verified check of a server given by IP address proves the CA, not the node. */
export const haproxyVerifyIpSan = defineRule({
  id: 'haproxy/verify-ip-san',
  kind: 'haproxy',
  check(file) {
    const config = file.config;
    return proxies(config).flatMap((section) => {
      const unnamed = verifiedChecks(config, section).filter((server) => !verifiedName(config, section, server) && isIP(hostAndPort(server.address)[0]) !== 0);
      if (unnamed.length === 0) return [];
      const rule = connectRule(config, section);
      // check-sni written but not sent: the file says more than it does, so a warning.
      const ignored = rule !== undefined && unnamed.some((s) => serverSetting(config, section, s, 'check-sni'));
      return [{
        severity: ignored ? 'warning' as const : 'info' as const,
        line: unnamed[0].line,
        message: `${section.kind} ${section.name}: the TLS check of ${unnamed.map((s) => s.name).join(', ')} verifies the certificate chain only${ignored ? ` ("${rule.words.join(' ')}" does not send the servers' check-sni; "connect default" would)` : ''}`,
        why: 'a server given by IP address can only be matched against the certificate\'s IP SANs, which HAProxy does not do: any certificate the CA signed passes, also another node\'s (cluster-endpoint serve checks the IP SAN)',
        source: `${HAPROXY_DOCS}#5.2-verifyhost ; ${IP_SAN_ISSUE} ; docs/render/haproxy.md`,
        fix: ignored ? 'write "http-check connect default" (or "tcp-check connect default"), so the connect takes the servers\' check-ssl and check-sni' : 'nothing to change in HAProxy; to verify identity, give the servers DNS names their certificates carry and add check-sni <name>, or run cluster-endpoint serve',
      }];
    });
  },
});
