// A small haproxy.cfg reader: sections and their directives as words, each with its line number.
// It reads what doctor needs (not a full grammar): `#` comments, quotes, and section keywords.

export const SECTION_KEYWORDS = ['global', 'defaults', 'frontend', 'backend', 'listen', 'resolvers', 'peers', 'userlist', 'program', 'http-errors', 'ring', 'mailers', 'cache', 'fcgi-app', 'log-forward', 'crt-store', 'traces', 'acme', 'log-profile'] as const;
export type SectionKind = (typeof SECTION_KEYWORDS)[number];

export interface HaproxyDirective {
  line: number;
  words: string[];
  /** Text after `#` on the same line, trimmed. */
  comment?: string;
}

export interface HaproxySection {
  kind: SectionKind;
  name: string;
  line: number;
  /** Every word of the section line (`backend api from tcp-defaults`). */
  header?: string[];
  directives: HaproxyDirective[];
}

export interface HaproxyConfig {
  sections: HaproxySection[];
  /** Every comment in the file, for version hints such as `# haproxy 3.3`. */
  comments: Array<{ line: number; text: string }>;
}

export function parseHaproxy(text: string): HaproxyConfig {
  const sections: HaproxySection[] = [];
  const comments: HaproxyConfig['comments'] = [];
  let current: HaproxySection | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const { words, comment } = splitWords(raw);
    if (comment !== undefined) comments.push({ line, text: comment });
    if (words.length === 0) return;
    // Section keywords are never directives, so they start a section wherever they are indented.
    if ((SECTION_KEYWORDS as readonly string[]).includes(words[0])) {
      // `defaults from base` names no section, it only inherits.
      const name = words[0] === 'defaults' && words[1] === 'from' ? '' : words[1] ?? '';
      current = { kind: words[0] as SectionKind, name, line, header: words, directives: [] };
      sections.push(current);
      return;
    }
    current?.directives.push({ line, words, ...(comment !== undefined ? { comment } : {}) });
  });
  return { sections, comments };
}

/** Splits a line into words (quotes group, backslash escapes) and its trailing comment. */
export function splitWords(raw: string): { words: string[]; comment?: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
      continue;
    }
    if (c === '\\' && i + 1 < raw.length) { word += raw[++i]; inWord = true; continue; }
    if (c === '"' || c === "'") { quote = c; inWord = true; continue; }
    if (c === '#') {
      if (inWord) words.push(word);
      return { words, comment: raw.slice(i + 1).trim() };
    }
    if (c === ' ' || c === '\t') {
      if (inWord) { words.push(word); word = ''; inWord = false; }
      continue;
    }
    word += c;
    inWord = true;
  }
  if (inWord) words.push(word);
  return { words };
}

/** Proxies: the sections that carry traffic. */
export function proxies(config: HaproxyConfig): HaproxySection[] {
  return config.sections.filter((s) => s.kind === 'frontend' || s.kind === 'backend' || s.kind === 'listen');
}

/** `backend api from tcp-defaults`: the named defaults section a proxy (or a defaults section) inherits from. */
function fromName(section: HaproxySection): string | undefined {
  const header = section.header ?? [];
  const at = header.indexOf('from');
  return at >= 0 ? header[at + 1] : undefined;
}

/**
 * The defaults sections a section inherits from, nearest first: the one named by `from`, else the last
 * defaults section above it (named or not); then what that one inherits with its own `from`.
 */
export function defaultsChain(config: HaproxyConfig, section: HaproxySection): HaproxySection[] {
  const known = chains.get(section);
  if (known) return known;
  const chain: HaproxySection[] = [];
  const positions = sectionPositions(config);
  let current: HaproxySection | undefined = section;
  while (current) {
    const index = positions.get(current) ?? config.sections.indexOf(current);
    const above = defaultsAbove(config, index);
    const from = fromName(current);
    // A defaults section without `from` inherits nothing; a proxy without it takes the last defaults above.
    const next: HaproxySection | undefined = from !== undefined ? above.filter((s) => s.name === from).at(-1) : current.kind === 'defaults' ? undefined : above.at(-1);
    if (!next || chain.includes(next)) break;
    chain.push(next);
    current = next;
  }
  chains.set(section, chain);
  return chain;
}

// Rules ask the same questions once per server line: a config with 20,000 servers must cost 20,000 answers,
// not 20,000 scans of the section. The indexes below are built once per parsed config (and dropped with it).
const chains = new WeakMap<HaproxySection, HaproxySection[]>();
const positions = new WeakMap<HaproxyConfig, Map<HaproxySection, number>>();
const defaultsLists = new WeakMap<HaproxyConfig, Array<{ index: number; section: HaproxySection }>>();
const byFirstWord = new WeakMap<HaproxySection, Map<string, HaproxyDirective[]>>();
const serverLines = new WeakMap<HaproxySection, ServerLine[]>();

function sectionPositions(config: HaproxyConfig): Map<HaproxySection, number> {
  let map = positions.get(config);
  if (!map) positions.set(config, (map = new Map(config.sections.map((s, i) => [s, i]))));
  return map;
}

/** The defaults sections above position `index`, in file order. */
function defaultsAbove(config: HaproxyConfig, index: number): HaproxySection[] {
  let list = defaultsLists.get(config);
  if (!list) defaultsLists.set(config, (list = config.sections.flatMap((section, i) => (section.kind === 'defaults' ? [{ index: i, section }] : []))));
  const above: HaproxySection[] = [];
  for (const entry of list) {
    if (entry.index >= index) break;
    above.push(entry.section);
  }
  return above;
}

/** Directives whose first words equal `prefix` (e.g. ['option', 'httpchk']). */
export function directives(section: HaproxySection | undefined, ...prefix: string[]): HaproxyDirective[] {
  if (!section) return [];
  if (prefix.length === 0) return section.directives;
  let index = byFirstWord.get(section);
  if (!index) {
    index = new Map();
    for (const d of section.directives) {
      const list = index.get(d.words[0]);
      if (list) list.push(d);
      else index.set(d.words[0], [d]);
    }
    byFirstWord.set(section, index);
  }
  const first = index.get(prefix[0]) ?? [];
  return prefix.length === 1 ? [...first] : first.filter((d) => prefix.every((word, i) => d.words[i] === word));
}

/** The last directive with this prefix in the section, else in the defaults it inherits from (nearest first). */
export function effective(config: HaproxyConfig, section: HaproxySection, ...prefix: string[]): HaproxyDirective | undefined {
  for (const s of [section, ...defaultsChain(config, section)]) {
    const found = directives(s, ...prefix).at(-1);
    if (found) return found;
  }
  return undefined;
}

/** Every directive with this prefix of the first section that has any: the section, else its defaults (a tcp-check script is inherited whole). */
export function inheritedList(config: HaproxyConfig, section: HaproxySection, ...prefix: string[]): HaproxyDirective[] {
  for (const s of [section, ...defaultsChain(config, section)]) {
    const found = directives(s, ...prefix);
    if (found.length > 0) return found;
  }
  return [];
}

/** A `server NAME ADDR[:PORT] flags...` or `server-template PREFIX COUNT ADDR[:PORT] flags...` line. */
export interface ServerLine {
  directive: HaproxyDirective;
  line: number;
  name: string;
  address: string;
  port?: number;
  /** The settings after the address (check, inter 2s, ...). */
  flags: string[];
}

/** `server` and `server-template` lines of a backend or listen section. */
export function servers(section: HaproxySection): ServerLine[] {
  const known = serverLines.get(section);
  if (known) return known;
  const lines = section.directives.flatMap((d): ServerLine[] => {
    const at = d.words[0] === 'server' ? 2 : d.words[0] === 'server-template' ? 3 : -1;
    if (at < 0) return [];
    const address = d.words[at] ?? '';
    const match = /:(\d+)$/.exec(address);
    return [{ directive: d, line: d.line, name: d.words[1] ?? '', address, ...(match ? { port: Number(match[1]) } : {}), flags: d.words.slice(at + 1) }];
  });
  serverLines.set(section, lines);
  return lines;
}

/** Ports a frontend/listen binds (`bind *:6443`, `bind 10.0.0.1:6443,:6444 ssl`, old `listen api 0.0.0.0:6443`). */
export function bindPorts(section: HaproxySection): number[] {
  const ports: number[] = [];
  const addresses = directives(section, 'bind').map((b) => b.words[1] ?? '');
  // Before `bind` existed, frontend and listen took the address on the section line.
  if (section.kind !== 'backend' && section.header?.[2] && section.header[2] !== 'from') addresses.push(section.header[2]);
  for (const list of addresses) {
    for (const address of list.split(',')) {
      const match = /:(\d+)(?:-\d+)?$/.exec(address);
      if (match) ports.push(Number(match[1]));
    }
  }
  return ports;
}

/** Parses an HAProxy time ("30s", "1m", "500" = ms, "1h", "1d") into milliseconds. */
export function haproxyTimeMs(text: string | undefined): number | undefined {
  const match = /^(\d+)(us|ms|s|m|h|d)?$/.exec(text ?? '');
  if (!match) return undefined;
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * unit;
}
