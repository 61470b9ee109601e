// keepalived's `include` as keepalived reads it: the statement is replaced by the text of every file its pattern
// matches (glob with braces, sorted), and a relative pattern is resolved against the directory of the file that
// holds the statement (keepalived chdir()s there before reading it: acassen/keepalived lib/parser.c, and
// keepalived.conf(5) "any relative paths included from a file are relative to the directory of the including
// file"). doctor checks the included text in the context of the file that includes it; each line keeps the
// file and line it came from, so findings point into the included file.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { DOCTOR_LIMITS } from './limits.js';

/** Where a line of an expanded file came from. */
export interface LineOrigin { file: string; line: number }

export interface ExpandedFile {
  text: string;
  /** origins[i] is where line i + 1 of `text` came from. */
  origins: LineOrigin[];
  /** Absolute paths of every file that was included. */
  included: string[];
}

/** Reads a file (undefined when it cannot be read) and lists a directory (empty when it cannot be listed). */
export interface IncludeReader {
  read(path: string): Promise<string | undefined>;
  list(dir: string): Promise<string[]>;
}

/** From the disk, with doctor's bounds: regular files only (never a FIFO or a device), none larger than doctor reads. */
export const DISK: IncludeReader = {
  read: async (path) => {
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile() || info.size > DOCTOR_LIMITS.bytes) return undefined;
    return readFile(path, 'utf8').catch(() => undefined);
  },
  list: (dir) => readdir(dir).catch(() => []),
};

const INCLUDE = /^\s*(include[rmwba]?)\s+("[^"]*"|\S+)/;
/** keepalived refuses deeper nesting as a loop; doctor stops there too (and at a file already being read). */
const MAX_DEPTH = 16;
/** At most this many included files, and this much text, per including file (doctor's bounds hold for the whole). */
const MAX_FILES = 256;

/** The file with every include expanded; undefined when it has no include statement. */
export async function expandIncludes(path: string, text: string, reader: IncludeReader = DISK): Promise<ExpandedFile | undefined> {
  if (!/^\s*include[rmwba]?\s/m.test(text)) return undefined;
  const out: ExpandedFile = { text: '', origins: [], included: [] };
  const lines: string[] = [];
  await expand(path, text, reader, [resolve(path)], lines, out, { bytes: text.length });
  out.text = lines.join('\n');
  return out;
}

async function expand(path: string, text: string, reader: IncludeReader, stack: string[], lines: string[], out: ExpandedFile, budget: { bytes: number }): Promise<void> {
  const rows = text.split(/\r?\n/);
  for (const [index, raw] of rows.entries()) {
    const match = INCLUDE.exec(raw.replace(/[#!].*$/, ''));
    if (!match || stack.length > MAX_DEPTH) {
      lines.push(raw);
      out.origins.push({ file: path, line: index + 1 });
      continue;
    }
    // The statement itself stays as a comment, so line numbers of the including file keep their meaning.
    lines.push(`# ${raw.trim()}`);
    out.origins.push({ file: path, line: index + 1 });
    const pattern = match[2].replace(/^"|"$/g, '');
    const absolute = isAbsolute(pattern) ? pattern : join(dirname(resolve(path)), pattern);
    for (const found of await glob(absolute, reader)) {
      if (stack.includes(found) || out.included.length >= MAX_FILES) continue;
      const included = await reader.read(found);
      if (included === undefined || budget.bytes + included.length > DOCTOR_LIMITS.bytes) continue;
      budget.bytes += included.length;
      out.included.push(found);
      // Paths as the user would name them: relative to the including file's path as given.
      const shown = isAbsolute(pattern) ? found : join(dirname(path), relative(dirname(resolve(path)), found));
      await expand(shown, included, reader, [...stack, found], lines, out, budget);
    }
  }
}

/** Files matching a glob pattern (* ? [..] and {a,b}), sorted as glob(3) sorts them. */
export async function glob(pattern: string, reader: IncludeReader): Promise<string[]> {
  const found = new Set<string>();
  for (const one of expandBraces(pattern)) {
    for (const path of await matchSegments('/', one.split('/').filter(Boolean), reader)) found.add(path);
  }
  return [...found].sort();
}

async function matchSegments(base: string, segments: string[], reader: IncludeReader): Promise<string[]> {
  if (segments.length === 0) return [base];
  const [first, ...rest] = segments;
  if (!/[*?[]/.test(first)) return matchSegments(join(base, first), rest, reader);
  const test = globRegExp(first);
  const out: string[] = [];
  for (const name of (await reader.list(base)).sort()) {
    if (name.startsWith('.') && !first.startsWith('.')) continue;
    if (test.test(name)) out.push(...(await matchSegments(join(base, name), rest, reader)));
  }
  return out;
}

function globRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) { source += '\\['; continue; }
      source += `[${segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** csh-style braces, as GLOB_BRACE expands them: "a{b,c{d,e}}" → ab, acd, ace. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    if (pattern[i] === '{') depth++;
    else if (pattern[i] === '}' && --depth === 0) {
      const parts: string[] = [];
      let from = open + 1;
      for (const comma of commas) { parts.push(pattern.slice(from, comma)); from = comma + 1; }
      parts.push(pattern.slice(from, i));
      const tail = pattern.slice(i + 1);
      return parts.flatMap((part) => expandBraces(pattern.slice(0, open) + part + tail));
    } else if (pattern[i] === ',' && depth === 1) commas.push(i);
  }
  return [pattern];
}
