import { Ajv, type ErrorObject } from 'ajv';
import { isAlias, isCollection, isNode, isPair, isScalar, LineCounter, parseDocument, visit, type Alias, type Document, type ErrorCode as YamlErrorCode, type Node as YamlNode } from 'yaml';
import { UserError } from '../errors.js';
import { readTextFile } from '../read-file.js';
import { normalize } from './normalize.js';
import { formatPath, type Problem } from './problem.js';
import { RULES } from './rules/index.js';
import { EndpointSpecSchema, type RawSpec } from './schema.js';
import { positionOf } from './yaml-position.js';
import { deeperThan } from './yaml-depth.js';
import type { Spec } from './types.js';

export interface LoadResult {
  /** Present only when there is no problem of severity error. */
  spec?: Spec;
  problems: Problem[];
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateSchema = ajv.compile<RawSpec>(EndpointSpecSchema);

/**
 * Bounds on what a spec may cost to read, so that no file (a "billion laughs", a runaway generator)
 * can stall or crash a running balancer. A real spec is a few KiB; a thousand nodes fit in 100 KiB.
 */
export const SPEC_LIMITS = {
  bytes: 1024 * 1024,
  /**
   * Alias expansions: how many times a `*name` stands for its anchor's value in the spec read whole (an alias
   * inside an anchored value counts again wherever that value is used). 100 are allowed; anchors for
   * repeated health checks stay possible, an alias bomb ("billion laughs") is refused.
   */
  aliases: 100,
  /** Nesting levels (mappings and lists inside one another), checked before parsing: a real spec has fewer than 10. */
  depth: 64,
  /** Problems listed; the rest are counted in one last line. */
  problems: 50,
} as const;

/** Parses spec text. Never throws: every problem comes back with a path, a line and a hint. */
export function parseSpec(text: string, source = '<inline>'): LoadResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > SPEC_LIMITS.bytes) {
    return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', line: 1, column: 1, message: `the spec is ${formatBytes(bytes)}; at most ${formatBytes(SPEC_LIMITS.bytes)} is read`, hint: 'a spec lists nodes and settings; check that the file is the endpoint spec and not generated output' }] };
  }
  try {
    return parseText(text, source);
  } catch (error) {
    // The YAML library and the rules are bounded, but a pathological document (deep nesting) can
    // still exhaust the stack: that is a bad spec, never a crash.
    return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', line: 1, column: 1, message: `the spec cannot be read: ${(error as Error).message}`, hint: 'simplify the document (deeply nested or self-referencing YAML is not a spec)' }] };
  }
}

function parseText(text: string, source: string): LoadResult {
  // Before any parser: each level costs the parser stack and memory (a 1 MiB document nested deeply, hundreds of MB).
  const deep = deeperThan(text, SPEC_LIMITS.depth);
  if (deep) {
    return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', ...deep, message: `the spec nests more than ${SPEC_LIMITS.depth} levels deep here`, hint: 'a spec is a few levels of mappings and lists; check that the file is the endpoint spec (this limit protects serve from documents built to exhaust it)' }] };
  }
  const lineCounter = new LineCounter();
  // uniqueKeys is checked below in one pass: the library compares every key with every other (quadratic).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    return {
      problems: capped(doc.errors.map((error) => ({
        code: 'SPEC_YAML', severity: 'error', path: '', ...at(error.pos[0]),
        message: error.message.split('\n')[0],
        hint: YAML_HINTS[error.code] ?? 'fix the YAML syntax at this position (indentation, quotes, colons)',
      } satisfies Problem))),
    };
  }
  const structural = duplicateKeys(doc, at);
  if (structural.length > 0) return { problems: capped(structural) };
  if (aliasExpansions(doc, SPEC_LIMITS.aliases) > SPEC_LIMITS.aliases) {
    return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', ...at(firstAliasOffset(doc)), message: `the spec expands YAML aliases (*name) more than ${SPEC_LIMITS.aliases} times`, hint: 'write the repeated values out, or use fewer anchors; this limit protects serve from alias bombs ("billion laughs")' }] };
  }
  // Counted above, exactly as documented; the library's own guard counts differently.
  const raw: unknown = doc.toJS({ maxAliasCount: -1 });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { problems: [{ code: 'SPEC_TYPE', severity: 'error', path: '', line: 1, column: 1, message: 'the spec must be a YAML mapping', hint: 'start from examples/endpoint.yaml' }] };
  }
  const locate = locator(doc, lineCounter);
  let problems: Problem[] = [];
  if (!validateSchema(raw)) problems.push(...schemaProblems(validateSchema.errors ?? []));
  // Rules read the document defensively, but a schema-invalid one can be huge: locate only what is shown.
  for (const rule of RULES) problems.push(...rule.check(raw as Record<string, unknown>));
  const shown = problems.slice(0, SPEC_LIMITS.problems);
  for (const problem of shown) if (problem.line === undefined) Object.assign(problem, locate(problem.path));
  shown.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  problems = capped([...shown, ...problems.slice(SPEC_LIMITS.problems)]);
  if (problems.some((p) => p.severity === 'error')) return { problems };
  return { spec: normalize(raw as RawSpec, source), problems };
}

/** Repeated keys in any mapping, found in one pass with a set per mapping. */
function duplicateKeys(doc: Document, at: (offset: number | undefined) => { line: number; column: number }): Problem[] {
  const problems: Problem[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) { seen.add(key); continue; }
        problems.push({
          code: 'SPEC_YAML', severity: 'error', path: '', ...at((pair.key as { range?: [number] } | null)?.range?.[0]),
          message: `map keys must be unique; "${String(key)}" is repeated`,
          hint: 'remove or rename the repeated key',
        });
      }
    },
  });
  return problems;
}

/**
 * How many alias expansions reading `doc` whole takes: one per `*name`, plus the expansions inside the value it
 * stands for, each time. Counted on the document without building anything; stops early past `limit`. An alias
 * inside the value it refers to (a cycle) counts as unbounded.
 */
export function aliasExpansions(doc: Document, limit: number): number {
  const anchors = new Map<string, YamlNode>();
  const targets = new Map<Alias, YamlNode | undefined>();
  visit(doc, (_key, node) => {
    if (isAlias(node)) targets.set(node, anchors.get(node.source));
    else if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
  });
  if (targets.size === 0) return 0;
  const memo = new Map<YamlNode, number>();
  const inside = (root: unknown): number => {
    let total = 0;
    const walk = (node: unknown): void => {
      if (total > limit) return;
      if (isAlias(node)) {
        const target = targets.get(node);
        total += target === undefined ? 1 : 1 + expansionsOf(target);
        return;
      }
      if (isPair(node)) { walk(node.key); walk(node.value); return; }
      if (isCollection(node)) for (const item of node.items) walk(item);
    };
    walk(root);
    return total;
  };
  const expansionsOf = (node: YamlNode): number => {
    const known = memo.get(node);
    if (known !== undefined) return known;
    memo.set(node, Infinity); // while it is counted: an alias to it from inside is a cycle
    const count = inside(node);
    memo.set(node, count);
    return count;
  };
  return inside(doc.contents);
}

/** What to do about each kind of YAML syntax error, in the library's codes. */
const YAML_HINTS: Partial<Record<YamlErrorCode, string>> = {
  TAB_AS_INDENT: 'indent with spaces: YAML does not allow tabs for indentation',
  BAD_INDENT: 'line this entry up with the other keys or list items at its level (spaces only)',
  MISSING_CHAR: 'a closing quote or bracket is missing, or a key lacks its ":"',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line and end with ":"; check for a missing ":" or a stray line break',
  BLOCK_AS_IMPLICIT_KEY: 'a key must be a plain word followed by ":"; check the indentation of the line above',
  BAD_SCALAR_START: 'quote the value: it starts with a character YAML reserves (@, `, |, >, %, !, &, *)',
  BAD_DQ_ESCAPE: 'in "double quotes", write a backslash as \\\\ or use \'single quotes\'',
  UNEXPECTED_TOKEN: 'remove or quote the character here; check the indentation of this line and the one above',
  DUPLICATE_KEY: 'remove or rename the repeated key',
  BAD_ALIAS: 'an alias is *name, where &name was set earlier on a value',
  MULTIPLE_DOCS: 'a spec is one YAML document: remove the "---" line and what follows, or split the file',
  KEY_OVER_1024_CHARS: 'a key may be at most 1024 characters',
  BLOCK_IN_FLOW: 'inside [ ] or { }, write the values on one line, separated by commas',
};

function firstAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, (_key, node) => {
    if (isAlias(node)) { offset = node.range?.[0]; return visit.BREAK; }
    return undefined;
  });
  return offset;
}

/** At most SPEC_LIMITS.problems problems, and one line that counts the rest. */
function capped(problems: Problem[]): Problem[] {
  if (problems.length <= SPEC_LIMITS.problems) return problems;
  const shown = problems.slice(0, SPEC_LIMITS.problems);
  const rest = problems.slice(SPEC_LIMITS.problems);
  const errors = rest.filter((p) => p.severity === 'error').length;
  shown.push({ code: rest[0].code, severity: errors > 0 ? 'error' : 'warning', path: '', message: `… and ${rest.length} more problem(s) not shown`, hint: 'fix the ones above first' });
  return shown;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/** Reads (regular files only, at most SPEC_LIMITS.bytes, within a deadline) and parses a spec file; `text` is what was read. */
export async function loadSpecFile(path: string): Promise<LoadResult & { text?: string }> {
  let text: string;
  try {
    text = await readTextFile(path, { maxBytes: SPEC_LIMITS.bytes, codes: { file: 'SPEC_FILE', limit: 'SPEC_LIMIT' }, hint: 'pass the spec with -c FILE (see examples/endpoint.yaml)' });
  } catch (error) {
    const { code, message, hint } = error as UserError;
    return { problems: [{ code: code === 'SPEC_LIMIT' ? 'SPEC_LIMIT' : 'SPEC_FILE', severity: 'error', path: '', message, hint: hint ?? 'pass the spec with -c FILE (see examples/endpoint.yaml)' }] };
  }
  return { ...parseSpec(text, path), text };
}

/** Loads a spec or throws a UserError listing its problems (for commands that need a valid spec). */
export async function requireSpec(path: string): Promise<Spec> {
  return (await requireSpecAndText(path)).spec;
}

/** requireSpec, with the text it was parsed from (one read: what renders is what was validated). */
export async function requireSpecAndText(path: string): Promise<{ spec: Spec; text: string }> {
  const result = await loadSpecFile(path);
  if (!result.spec || result.text === undefined) throw new SpecInvalidError(path, result.problems);
  return { spec: result.spec, text: result.text };
}

export class SpecInvalidError extends UserError {
  readonly problems: Problem[];
  readonly file: string;
  constructor(file: string, problems: Problem[]) {
    const first = problems.find((p) => p.severity === 'error') ?? problems[0];
    super(first?.code ?? 'SPEC_VALUE', `${file} is not a valid spec (${problems.filter((p) => p.severity === 'error').length} problem(s))`, { exitCode: 2 });
    this.problems = problems;
    this.file = file;
  }
}

function schemaProblems(errors: ErrorObject[]): Problem[] {
  const problems: Problem[] = [];
  for (const error of errors) {
    const parts = pointerToParts(error.instancePath);
    const path = formatPath(parts);
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(error.params.additionalProperty);
        const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((k) => k !== '$schema');
        const suggestion = didYouMean(key, known);
        problems.push({
          code: 'SPEC_UNKNOWN_KEY', severity: 'error', path: formatPath([...parts, key]),
          message: `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
          hint: suggestion ? `rename it to ${suggestion}` : `remove it; allowed keys here: ${known.join(', ')}`,
        });
        break;
      }
      case 'required':
        problems.push({
          code: 'SPEC_REQUIRED', severity: 'error', path: formatPath([...parts, String(error.params.missingProperty)]),
          message: `"${String(error.params.missingProperty)}" is required`,
          hint: `add ${String(error.params.missingProperty)} (${(error.parentSchema as { properties?: Record<string, { description?: string }> }).properties?.[String(error.params.missingProperty)]?.description ?? 'see docs/spec.md'})`,
        });
        break;
      case 'type':
        // A secret written as a number is still a secret: problems reach logs, /api/status and the status page.
        problems.push({ code: 'SPEC_TYPE', severity: 'error', path, message: `must be ${article(String(error.params.type))}, got ${SECRET_PATHS.has(path) ? typeof error.data : typeName(error.data)}`, hint: describe(error) });
        break;
      case 'enum':
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `"${String(error.data)}" is not allowed`, hint: `use one of: ${(error.params.allowedValues as unknown[]).join(', ')}` });
        break;
      case 'pattern':
        problems.push(patternProblem(path, error));
        break;
      case 'minimum':
      case 'maximum': {
        const schema = error.parentSchema as { minimum?: number; maximum?: number };
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `${String(error.data)} is out of range`, hint: `use a value from ${schema.minimum ?? '-∞'} to ${schema.maximum ?? '∞'}` });
        break;
      }
      case 'minItems':
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `needs at least ${String(error.params.limit)} item(s)`, hint: describe(error) });
        break;
      case 'minLength':
      case 'maxLength':
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `length ${error.message ?? ''}`.trim(), hint: describe(error) });
        break;
      default:
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: error.message ?? 'invalid value', hint: describe(error) });
    }
  }
  return problems;
}

function patternProblem(path: string, error: ErrorObject): Problem {
  const pattern = String(error.params.pattern);
  if (pattern.includes('ms|s|m|h')) {
    return { code: 'SPEC_DURATION', severity: 'error', path, message: `"${String(error.data)}" is not a duration`, hint: 'write a number with a unit: "500ms", "10s", "1m" (units ms, s, m, h)' };
  }
  if (pattern.startsWith('^[a-z0-9]')) {
    return { code: 'SPEC_VALUE', severity: 'error', path, message: `"${String(error.data)}" is not a valid name`, hint: 'use lower-case letters, digits and "-", starting and ending with a letter or digit (e.g. cp-01)' };
  }
  return { code: 'SPEC_VALUE', severity: 'error', path, message: `"${String(error.data)}" does not match ${pattern}`, hint: describe(error) };
}

/** Fields whose value is never repeated in a problem (docs/security.md). */
const SECRET_PATHS: ReadonlySet<string> = new Set(['balancer.adminToken', 'vip.authKey']);

function describe(error: ErrorObject): string {
  const schema = error.parentSchema as { description?: string } | undefined;
  return schema?.description ?? 'see docs/spec.md';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function pointerToParts(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p));
}

function parsePath(path: string): Array<string | number> {
  const parts: Array<string | number> = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(match[2] !== undefined ? Number(match[2]) : match[1]);
  return parts;
}

/** Maps a dotted path to the line and column of its key (or value) in the YAML source. */
function locator(doc: Document, lineCounter: LineCounter) {
  return (path: string): { line?: number; column?: number } => positionOf(doc, lineCounter, parsePath(path)) ?? {};
}

/** The closest known key within edit distance 2 (or a prefix match). */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
