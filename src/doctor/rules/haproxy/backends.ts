// Which proxies carry the Kubernetes API, and which health check a backend really runs.
import { bindPorts, defaultsOf, directives, proxies, serverPort, servers, type HaproxyConfig, type HaproxyDirective, type HaproxySection } from '../../parsers/haproxy.js';

export const KUBERNETES_PORT = 6443;

/** Options that choose a backend's check; HAProxy keeps only the last one. */
export const CHECK_OPTIONS = ['httpchk', 'ssl-hello-chk', 'tcp-check', 'mysql-check', 'pgsql-check', 'redis-check', 'smtpchk', 'ldap-check', 'spop-check', 'external-check'] as const;

/** Backends (and listen sections) whose servers are kube-apiservers: port 6443, a 6443 frontend, or the name. */
export function kubernetesBackends(config: HaproxyConfig): HaproxySection[] {
  const names = new Set<string>();
  for (const section of proxies(config)) {
    if (section.kind === 'backend' || !bindPorts(section).includes(KUBERNETES_PORT)) continue;
    for (const d of [...directives(section, 'default_backend'), ...directives(section, 'use_backend')]) if (d.words[1]) names.add(d.words[1]);
  }
  return proxies(config).filter((section) => {
    if (section.kind === 'frontend') return false;
    if (names.has(section.name)) return true;
    if (section.kind === 'listen' && bindPorts(section).includes(KUBERNETES_PORT)) return true;
    if (servers(section).some((s) => serverPort(s) === KUBERNETES_PORT)) return true;
    return /kube|k8s|apiserver/i.test(section.name);
  });
}

/** The check option in effect for a backend (the last one in the section, else in its defaults). */
export function checkOption(config: HaproxyConfig, section: HaproxySection): HaproxyDirective | undefined {
  const pick = (s: HaproxySection | undefined) => (s ? s.directives.filter((d) => d.words[0] === 'option' && (CHECK_OPTIONS as readonly string[]).includes(d.words[1] ?? '')).at(-1) : undefined);
  const own = pick(section);
  if (own) return own;
  return pick(defaultsOf(config, section));
}

/** True when the backend's check looks at the application (HTTP /readyz), not just the TCP port. */
export function checksApplication(config: HaproxyConfig, section: HaproxySection): boolean {
  const option = checkOption(config, section);
  if (option?.words[1] === 'httpchk') return true;
  if (option?.words[1] === 'tcp-check') {
    // A tcp-check script that sends a request and expects an answer checks more than the port.
    const own = directives(section, 'tcp-check');
    const script = own.length > 0 ? own : directives(defaultsOf(config, section), 'tcp-check');
    return script.some((d) => d.words[1]?.startsWith('send')) && script.some((d) => d.words[1] === 'expect');
  }
  return false;
}

/** True when a server (or a default-server line in the section or its defaults) has this keyword sequence. */
export function serverHas(config: HaproxyConfig, section: HaproxySection, server: HaproxyDirective, ...words: string[]): boolean {
  const lines = [server, ...directives(section, 'default-server'), ...directives(defaultsOf(config, section), 'default-server')];
  return lines.some((line) => containsSequence(line.words.slice(1), words));
}

function containsSequence(haystack: string[], needle: string[]): boolean {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((word, j) => haystack[i + j] === word)) return true;
  }
  return false;
}
