// Terraform files: @cdktn/hcl2json gives the structure (it has no line numbers), and the source text gives
// the lines — found by searching for the block header, then the attribute inside the block's braces.
import { UserError } from '../../errors.js';

export interface TerraformFile {
  path: string;
  text: string;
  /** hcl2json output: { resource: { type: { name: [body] } }, variable: { name: [body] }, ... } or tfvars values. */
  json: Record<string, unknown>;
}

/** Parses HCL; throws an Error whose message carries hcl2json's `file:line,col` location. */
export async function parseTerraform(path: string, text: string): Promise<TerraformFile> {
  let parse: (file: string, source: string) => Promise<unknown>;
  try {
    ({ parse } = await import('@cdktn/hcl2json'));
  } catch (error) {
    throw new UserError('USAGE', `cannot check ${path}: the HCL parser @cdktn/hcl2json is not installed`, { hint: 'npm install @cdktn/hcl2json, or leave the Terraform files out', exitCode: 2, cause: error });
  }
  const json = (await parse(path, text)) as Record<string, unknown>;
  return { path, text, json };
}

/** Line (1-based) of `resource "type" "name" {` (or `variable "name" {` with type undefined). */
export function blockLine(text: string, keyword: string, labels: string[]): number | undefined {
  return indexOf(text).blocks.get([keyword, ...labels].join('\u0000'));
}

/**
 * The lines of a file and where each block header and top-level `name =` is, made once per text: rules ask for
 * a line per resource and variable, and scanning the whole file for each made a 1 MiB file take minutes.
 */
interface LineIndex { lines: string[]; blocks: Map<string, number>; assignments: Map<string, number> }

let lastIndex: { text: string; index: LineIndex } | undefined;

function indexOf(text: string): LineIndex {
  if (lastIndex?.text === text) return lastIndex.index;
  const lines = text.split(/\r?\n/);
  const blocks = new Map<string, number>();
  const assignments = new Map<string, number>();
  lines.forEach((line, i) => {
    const header = /^\s*([A-Za-z0-9_-]+)((?:\s+(?:"[^"]*"|[A-Za-z0-9_.-]+))*)\s*\{/.exec(line);
    if (header) {
      const labels = [...header[2].matchAll(/"([^"]*)"|([A-Za-z0-9_.-]+)/g)].map((m) => m[1] ?? m[2]);
      const key = [header[1], ...labels].join('\u0000');
      if (!blocks.has(key)) blocks.set(key, i + 1);
    }
    const assignment = /^\s*([^\s=]+)\s*=/.exec(line);
    if (assignment && !assignments.has(assignment[1])) assignments.set(assignment[1], i + 1);
  });
  const index = { lines, blocks, assignments };
  lastIndex = { text, index };
  return index;
}

/**
 * Line of `attribute =` (or of a nested block `attribute {`) directly inside the block that starts at
 * `fromLine`; undefined when the block does not set it.
 */
export function attributeLine(text: string, fromLine: number, attribute: string): number | undefined {
  const { lines } = indexOf(text);
  const pattern = new RegExp(`^\\s*"?${escape(attribute)}"?\\s*(=|\\{)`);
  let depth = 0;
  for (let i = fromLine - 1; i < lines.length; i++) {
    const code = stripComment(lines[i]);
    if (depth === 1 && pattern.test(code)) return i + 1;
    for (const c of code.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
      if (c === '{') depth++;
      else if (c === '}') depth--;
    }
    if (depth <= 0 && i >= fromLine - 1 && code.includes('}')) return undefined;
  }
  return undefined;
}

/** Line of `name =` in a .tfvars file. */
export function tfvarsLine(text: string, name: string): number | undefined {
  return indexOf(text).assignments.get(name);
}

function stripComment(line: string): string {
  return line.replace(/"(?:[^"\\]|\\.)*"|(#|\/\/).*$/g, (m, c: string | undefined) => (c ? '' : m));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `resource` blocks of one type: [{ name, body }] (hcl2json wraps each body in a one-item list). */
export function resources(file: TerraformFile, type: string): Array<{ name: string; body: Record<string, unknown> }> {
  const byType = record(record(file.json.resource)[type]);
  const out: Array<{ name: string; body: Record<string, unknown> }> = [];
  for (const [name, bodies] of Object.entries(byType)) {
    for (const body of Array.isArray(bodies) ? bodies : [bodies]) out.push({ name, body: record(body) });
  }
  return out;
}

/** The first body of a nested block (`health_check { ... }` → its attributes), undefined when absent. */
export function nestedBlock(body: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  return record(Array.isArray(value) ? value[0] : value);
}

export function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Variables known statically: defaults from `variable` blocks, overridden by .tfvars values. */
export type TerraformVariables = Map<string, { value: unknown; file: string; line: number }>;

export function collectVariables(files: TerraformFile[]): TerraformVariables {
  const variables: TerraformVariables = new Map();
  for (const file of files.filter((f) => !isTfvars(f.path))) {
    for (const [name, bodies] of Object.entries(record(file.json.variable))) {
      const body = record(Array.isArray(bodies) ? bodies[0] : bodies);
      if ('default' in body) variables.set(name, { value: body.default, file: file.path, line: blockLine(file.text, 'variable', [name]) ?? 1 });
    }
  }
  for (const file of files.filter((f) => isTfvars(f.path))) {
    for (const [name, value] of Object.entries(file.json)) variables.set(name, { value, file: file.path, line: tfvarsLine(file.text, name) ?? 1 });
  }
  return variables;
}

export function isTfvars(path: string): boolean {
  return /\.tfvars(\.json)?$/.test(path);
}

/**
 * Resolves a value written in HCL as far as is known statically: `"${var.x}"` → the variable's value,
 * `"${var.env}-api"` → "prod-api". Undefined when it depends on something unknown (a module output, a
 * variable without default).
 */
export function resolve(value: unknown, variables: TerraformVariables): unknown {
  if (typeof value !== 'string') return value;
  const whole = /^\$\{\s*var\.([A-Za-z0-9_-]+)\s*\}$/.exec(value);
  if (whole) return variables.get(whole[1])?.value;
  let unknown = false;
  const text = value.replace(/\$\{([^}]*)\}/g, (_, expression: string) => {
    const variable = /^\s*var\.([A-Za-z0-9_-]+)\s*$/.exec(expression);
    const resolved = variable ? variables.get(variable[1])?.value : undefined;
    if (typeof resolved === 'string' || typeof resolved === 'number') return String(resolved);
    unknown = true;
    return '';
  });
  return unknown ? undefined : text;
}

/** Names of the variables a value refers to (`${var.x}`), for "set var.x in your tfvars" messages. */
export function referencedVariables(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return [...value.matchAll(/var\.([A-Za-z0-9_-]+)/g)].map((m) => m[1]);
}
