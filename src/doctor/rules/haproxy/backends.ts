// Which proxies carry the Kubernetes or the Talos API, and which health check a backend really runs.
import { KUBERNETES_API_PORT, TALOS_API_PORT } from '../../../spec/listener-role.js';
import { bindPorts, defaultsChain, directives, effective, inheritedList, proxies, servers, type HaproxyConfig, type HaproxyDirective, type HaproxySection, type ServerLine } from '../../parsers/haproxy.js';

/** Ports clients reach apid on through a balancer (the guide's 50001 is the workers' Talos API). */
const TALOS_PORTS = [TALOS_API_PORT, 50001];

export type Api = 'kubernetes' | 'talos';

/** Options that choose a backend's check; HAProxy keeps only the last one. */
export const CHECK_OPTIONS = ['httpchk', 'ssl-hello-chk', 'tcp-check', 'mysql-check', 'pgsql-check', 'redis-check', 'smtpchk', 'ldap-check', 'spop-check', 'external-check'] as const;

function apiOfPort(port: number | undefined): Api | undefined {
  if (port === KUBERNETES_API_PORT) return 'kubernetes';
  if (port !== undefined && TALOS_PORTS.includes(port)) return 'talos';
  return undefined;
}

/** The backends a frontend (or listen section) sends to. */
function targetsOf(section: HaproxySection): string[] {
  return [...directives(section, 'default_backend'), ...directives(section, 'use_backend')].map((d) => d.words[1]).filter((n): n is string => n !== undefined);
}

/**
 * The API a proxy carries: its servers' port (6443 → Kubernetes, 50000 → Talos), else the port a
 * frontend sending to it binds (or a listen section's own bind), else — only when no server line states
 * a port, so a "kube-dashboard" on 8443 is not taken for the API — its name (kube, k8s, apiserver /
 * talos, apid). Undefined for anything else (a stats page, another service).
 */
export function apiOf(config: HaproxyConfig, section: HaproxySection): Api | undefined {
  for (const server of servers(section)) {
    const api = apiOfPort(server.port);
    if (api) return api;
  }
  const bound = section.kind === 'backend'
    ? proxies(config).filter((p) => p.kind !== 'backend' && targetsOf(p).includes(section.name)).flatMap(bindPorts)
    : bindPorts(section);
  for (const port of bound) {
    const api = apiOfPort(port);
    if (api) return api;
  }
  if (section.kind === 'frontend') return targetsOf(section).map((name) => proxies(config).find((p) => p.kind === 'backend' && p.name === name)).map((b) => (b ? apiOf(config, b) : undefined)).find(Boolean);
  if (servers(section).some((s) => s.port !== undefined)) return undefined;
  if (/kube|k8s|apiserver/i.test(section.name)) return 'kubernetes';
  if (/talos|apid/i.test(section.name)) return 'talos';
  return undefined;
}

/** Backends and listen sections (the proxies with servers) that carry this API. */
function apiBackends(config: HaproxyConfig, api: Api): HaproxySection[] {
  return proxies(config).filter((s) => s.kind !== 'frontend' && apiOf(config, s) === api);
}

/** Backends (and listen sections) whose servers are kube-apiservers. */
export function kubernetesBackends(config: HaproxyConfig): HaproxySection[] {
  return apiBackends(config, 'kubernetes');
}

/** How many servers a line stands for: 1, or a server-template's count ("3" or "1-3"). */
export function serverCount(server: ServerLine): number {
  const words = server.directive.words;
  if (words[0] !== 'server-template') return 1;
  const range = /^(\d+)(?:-(\d+))?$/.exec(words[2] ?? '');
  if (!range) return 1;
  return range[2] === undefined ? Number(range[1]) : Number(range[2]) - Number(range[1]) + 1;
}

/** The check option in effect for a backend (the last one in the section, else in the defaults it inherits). */
export function checkOption(config: HaproxyConfig, section: HaproxySection): HaproxyDirective | undefined {
  for (const s of [section, ...defaultsChain(config, section)]) {
    const found = s.directives.filter((d) => d.words[0] === 'option' && (CHECK_OPTIONS as readonly string[]).includes(d.words[1] ?? '')).at(-1);
    if (found) return found;
  }
  return undefined;
}

/** The check a backend runs, in words a message can show, and how deep it looks. */
export interface CheckInEffect {
  depth: 'tcp' | 'tls' | 'application';
  /** "a TCP connect (no check option)", "option ssl-hello-chk (an SSL hello)", "GET /readyz (option httpchk)". */
  text: string;
  directive?: HaproxyDirective;
}

export function checkInEffect(config: HaproxyConfig, section: HaproxySection): CheckInEffect {
  const option = checkOption(config, section);
  const name = option?.words[1];
  if (name === 'httpchk') return { depth: 'application', text: `an HTTP check (option httpchk${option?.words.length && option.words.length > 2 ? ` ${option.words.slice(2).join(' ')}` : ''})`, directive: option };
  if (name === 'tcp-check') {
    const script = inheritedList(config, section, 'tcp-check');
    if (script.some((d) => d.words[1]?.startsWith('send')) && script.some((d) => d.words[1]?.startsWith('expect'))) return { depth: 'application', text: 'a tcp-check script with send/expect', directive: option };
    if (script.some((d) => d.words[1] === 'connect' && d.words.includes('ssl'))) return { depth: 'tls', text: 'a TLS handshake (tcp-check connect ssl)', directive: option };
    return { depth: 'tcp', text: 'a TCP connect (option tcp-check without send/expect)', directive: option };
  }
  if (name === 'ssl-hello-chk') return { depth: 'tls', text: 'an SSL hello (option ssl-hello-chk)', directive: option };
  if (name) return { depth: 'application', text: `option ${name}`, directive: option };
  const ssl = servers(section).some((s) => checksWithSsl(config, section, s));
  return ssl ? { depth: 'tls', text: 'a TLS handshake (check-ssl, no check option)' } : { depth: 'tcp', text: 'a TCP connect (no check option)' };
}

/**
 * The settings that apply to a server line, nearest first: its own, then the default-server lines of its
 * section and of the defaults it inherits, the last line of each first (a later line overrides an earlier one).
 */
function settingLines(config: HaproxyConfig, section: HaproxySection, server: ServerLine): Array<{ words: string[]; line: number }> {
  return [
    { words: server.flags, line: server.line },
    ...[section, ...defaultsChain(config, section)].flatMap((s) => directives(s, 'default-server').reverse().map((d) => ({ words: d.words.slice(1), line: d.line }))),
  ];
}

/** The value of a server setting (`inter 10s`) and the line that sets it, nearest first. */
export function serverSetting(config: HaproxyConfig, section: HaproxySection, server: ServerLine, keyword: string): { value: string; line: number } | undefined {
  for (const { words, line } of settingLines(config, section, server)) {
    const at = words.lastIndexOf(keyword);
    if (at >= 0 && words[at + 1] !== undefined) return { value: words[at + 1], line };
  }
  return undefined;
}

/** True when a server (or a default-server line in the section or its defaults) has this keyword sequence. */
export function serverHas(config: HaproxyConfig, section: HaproxySection, server: ServerLine, ...words: string[]): boolean {
  return settingLines(config, section, server).some((line) => containsSequence(line.words, words));
}

/** The first of the keywords that decides a setting, nearest first (server line, then default-server lines). */
function firstOf(config: HaproxyConfig, section: HaproxySection, server: ServerLine, keywords: string[]): string | undefined {
  for (const { words } of settingLines(config, section, server)) {
    const found = [...words].reverse().find((w) => keywords.includes(w));
    if (found) return found;
  }
  return undefined;
}

/** Whether health checks of this server use TLS: `check-ssl`, or `ssl` (which checks inherit), or an `http-check connect ssl`. */
export function checksWithSsl(config: HaproxyConfig, section: HaproxySection, server: ServerLine): boolean {
  if (inheritedList(config, section, 'http-check', 'connect').some((d) => d.words.includes('ssl'))) return true;
  if (inheritedList(config, section, 'tcp-check', 'connect').some((d) => d.words.includes('ssl'))) return true;
  const checkSsl = firstOf(config, section, server, ['check-ssl', 'no-check-ssl']);
  if (checkSsl) return checkSsl === 'check-ssl';
  return firstOf(config, section, server, ['ssl', 'no-ssl']) === 'ssl';
}

/** The port health checks go to: `port N` on the server or a default-server line, else the server's own port. */
export function checkPort(config: HaproxyConfig, section: HaproxySection, server: ServerLine): number | undefined {
  const port = serverSetting(config, section, server, 'port');
  return port && /^\d+$/.test(port.value) ? Number(port.value) : server.port;
}

/** The proxy mode in effect: `mode` in the section, else in its defaults; HAProxy's default is tcp. */
export function modeOf(config: HaproxyConfig, section: HaproxySection): { mode: string; directive?: HaproxyDirective } {
  const directive = effective(config, section, 'mode');
  return { mode: directive?.words[1] ?? 'tcp', ...(directive ? { directive } : {}) };
}

function containsSequence(haystack: string[], needle: string[]): boolean {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((word, j) => haystack[i + j] === word)) return true;
  }
  return false;
}

export const HAPROXY_DOCS = 'https://docs.haproxy.org/2.6/configuration.html';
