// A small haproxy.cfg reader: sections and their directives as words, each with its line number.
// It reads what doctor needs (not a full grammar): `#` comments, quotes, and section keywords.

export const SECTION_KEYWORDS = ['global', 'defaults', 'frontend', 'backend', 'listen', 'resolvers', 'peers', 'userlist', 'program', 'http-errors', 'ring', 'mailers', 'cache'] as const;
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
      current = { kind: words[0] as SectionKind, name: words[1] ?? '', line, directives: [] };
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

/** The `defaults` section a proxy inherits from: the last one above it. */
export function defaultsOf(config: HaproxyConfig, section: HaproxySection): HaproxySection | undefined {
  let found: HaproxySection | undefined;
  for (const s of config.sections) {
    if (s === section) break;
    if (s.kind === 'defaults') found = s;
  }
  return found;
}

/** Directives whose first words equal `prefix` (e.g. ['option', 'httpchk']). */
export function directives(section: HaproxySection | undefined, ...prefix: string[]): HaproxyDirective[] {
  if (!section) return [];
  return section.directives.filter((d) => prefix.every((word, i) => d.words[i] === word));
}

/** The last directive with this prefix in the section, else in its defaults (HAProxy's inheritance). */
export function effective(config: HaproxyConfig, section: HaproxySection, ...prefix: string[]): HaproxyDirective | undefined {
  return directives(section, ...prefix).at(-1) ?? directives(defaultsOf(config, section), ...prefix).at(-1);
}

/** `server` lines of a backend or listen section. */
export function servers(section: HaproxySection): HaproxyDirective[] {
  return directives(section, 'server');
}

/** The port of a `server NAME ADDR:PORT` line, when written. */
export function serverPort(server: HaproxyDirective): number | undefined {
  const match = /:(\d+)$/.exec(server.words[2] ?? '');
  return match ? Number(match[1]) : undefined;
}

/** Ports a frontend/listen binds (`bind *:6443`, `bind 10.0.0.1:6443,:6444 ssl`). */
export function bindPorts(section: HaproxySection): number[] {
  const ports: number[] = [];
  for (const bind of directives(section, 'bind')) {
    for (const address of (bind.words[1] ?? '').split(',')) {
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
