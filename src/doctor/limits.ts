// What doctor reads, bounded: a file larger than DOCTOR_LIMITS.bytes or nested deeper than DOCTOR_LIMITS.depth
// is a finding (`doctor/limit`), never a parser crash. The YAML library, the HCL parser and our BIRD reader
// recurse per level: 900 levels of JSON in 6 KiB aborted V8 outright. Nesting is found before any parser runs,
// by one pass over the characters (spec/yaml-depth.ts for YAML and JSON; bracketsDeeperThan for the brace
// languages).
import { SPEC_LIMITS } from '../spec/load.js';
import { deeperThan, type DepthExcess } from '../spec/yaml-depth.js';
import type { FileKind } from './context.js';
import type { Finding } from './finding.js';

export const DOCTOR_LIMITS = {
  /** Far more than any hand-written config; a generated haproxy.cfg with 20,000 servers is under 2 MiB. */
  bytes: 8 * 1024 * 1024,
  depth: SPEC_LIMITS.depth,
} as const;

/** Comment and string syntax of the brace languages. */
const BRACES: Partial<Record<FileKind, { line: string[]; block: boolean }>> = {
  terraform: { line: ['#', '//'], block: true },
  bird: { line: ['#'], block: true },
  keepalived: { line: ['#', '!'], block: false },
};

/** Where `text` nests deeper than the limit, for a file of `kind` (undefined: any YAML or JSON it may be). */
export function nestingExcess(kind: FileKind | undefined, text: string, limit: number = DOCTOR_LIMITS.depth): DepthExcess | undefined {
  if (kind === 'haproxy') return undefined; // sections and lines: nothing nests
  const syntax = kind && BRACES[kind];
  return syntax ? bracketsDeeperThan(text, limit, syntax) : deeperThan(text, limit);
}

/** `{ [ (` nesting outside "strings" and comments; the first opening past `limit`. */
export function bracketsDeeperThan(text: string, limit: number, syntax: { line: string[]; block: boolean }): DepthExcess | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') { line++; lineStart = i + 1; continue; }
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '\n') { line++; lineStart = i + 1; }
      }
      continue;
    }
    if (syntax.block && c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      for (let j = i; j < stop; j++) if (text[j] === '\n') { line++; lineStart = j + 1; }
      i = stop - 1;
      continue;
    }
    const before = i === lineStart ? ' ' : text[i - 1];
    if ((before === ' ' || before === '\t' || before === '{' || before === '}' || before === ';' || before === ',') && syntax.line.some((start) => text.startsWith(start, i))) {
      const end = text.indexOf('\n', i);
      i = (end === -1 ? text.length : end) - 1;
      continue;
    }
    if (c === '{' || c === '[' || c === '(') {
      if (++depth > limit) return { line, column: i - lineStart + 1 };
    } else if ((c === '}' || c === ']' || c === ')') && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/** The finding for a file doctor does not read whole: too large, or nested too deeply. */
export function limitFinding(file: string, line: number, message: string): Finding {
  return {
    rule: 'doctor/limit', severity: 'error', file, line, message,
    why: 'doctor reads files of bounded size and depth so that no file can exhaust it; a hand-written config is far within both',
    source: 'docs/doctor.md#limits',
    fix: 'check that this is the config meant (not generated output, a log or a binary); split a very large file',
  };
}
