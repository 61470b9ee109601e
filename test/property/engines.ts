// The engines' own checks on what the targets wrote, for a batch of specs at once: haproxy -c, keepalived -t (in
// one scratch network namespace holding every interface the files name), bird -p, promtool check rules, terraform
// fmt -check (where terraform is installed) and HashiCorp's HCL parser, the Talos JSON Schemas, named-checkzone, systemd-analyze verify and sh -n. Files go into one
// directory per spec; engines that take many files at once (promtool, terraform, systemd-analyze) get them in one
// call, and the rest run a few at a time.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseAllDocuments } from 'yaml';
import type { HaproxyFile, KeepalivedFile } from '../../src/doctor/context.js';
import { parseHaproxyCheck } from '../../src/doctor/engines/haproxy.js';
import { interfaceNames, parseKeepalivedCheck } from '../../src/doctor/engines/keepalived.js';
import { parseHaproxy } from '../../src/doctor/parsers/haproxy.js';
import { parseKeepalived } from '../../src/doctor/parsers/keepalived.js';
import { findOnPath } from '../../src/path.js';
import type { Target } from '../../src/render/fields.js';
import type { RenderedFile } from '../../src/render/index.js';
import type { Spec } from '../../src/spec/types.js';

/** One spec's rendered targets, as the engines see them. */
export interface Rendered {
  /** Which spec of the batch (names its directory). */
  index: number;
  spec: Spec;
  files: Partial<Record<Target, RenderedFile[]>>;
  /** render builtin with --binary set to an executable that exists, for systemd-analyze verify. */
  units?: RenderedFile[];
}

export interface EngineProblem { index: number; engine: string; file: string; message: string }
export interface EngineRun { engine: string; files: number; ms: number; skipped?: string }

interface Output { code: number | null; stdout: string; stderr: string }

function run(command: string, args: string[], timeoutMs = 60_000): Promise<Output> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr: error && code === null ? `${stderr}${error.message}` : stderr });
    });
  });
}

/** Runs fn on every item, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const root = process.getuid?.() === 0;

/** Why an engine cannot run here, or undefined. */
export const ENGINE_NEEDS: Record<string, () => string | undefined> = {
  'haproxy -c': () => (findOnPath('haproxy') ? undefined : 'haproxy is not on the PATH (Debian haproxy)'),
  'keepalived -t': () => (!findOnPath('keepalived') ? 'keepalived is not on the PATH (Debian keepalived)' : !root ? 'keepalived -t needs root for a scratch network namespace' : undefined),
  'bird -p': () => (findOnPath('bird') ? undefined : 'bird is not on the PATH (Debian bird2)'),
  'promtool check rules': () => (findOnPath('promtool') ? undefined : 'promtool is not on the PATH (Debian prometheus)'),
  'terraform fmt -check': () => (findOnPath('terraform') ? undefined : 'terraform is not on the PATH'),
  'HCL parse (@cdktn/hcl2json)': () => undefined,
  'Talos schemas': () => undefined,
  'named-checkzone': () => (findOnPath('named-checkzone') ? undefined : 'named-checkzone is not on the PATH (Debian bind9-utils)'),
  'systemd-analyze verify': () => (findOnPath('systemd-analyze') ? undefined : 'systemd-analyze is not on the PATH (Debian systemd)'),
  'sh -n': () => (findOnPath('sh') ? undefined : 'sh is not on the PATH'),
};

/**
 * Engines a CI host cannot have (it installs Debian packages and npm packages only; terraform is neither): their
 * absence is said, not failed, and what stands in for them. HashiCorp's HCL parser (hcl2json) reads the same files.
 */
export const OPTIONAL_ENGINES: Readonly<Record<string, string>> = {
  'terraform fmt -check': 'terraform is not a Debian or npm package, so CI cannot install it: the .tf files are only parsed (HCL parse, @cdktn/hcl2json), their formatting is not checked',
};

// Unmodified copies of the Talos machine-config JSON Schemas (MPL-2.0, see test/fixtures/talos-schemas/README.md).
let schemas: Record<'v1.11' | 'v1.13', ValidateFunction> | undefined;
function talosSchemas(): Record<'v1.11' | 'v1.13', ValidateFunction> {
  const compile = (version: string) => {
    const schema = JSON.parse(readFileSync(new URL(`../fixtures/talos-schemas/${version}/config.schema.json`, import.meta.url), 'utf8'));
    // strict: false because the schemas carry editor keywords (x-intellij-html-description, markdownDescription).
    return new Ajv2020({ strict: false, allErrors: true, formats: { uri: (value: string) => URL.canParse(value) } }).compile(schema);
  };
  schemas ??= { 'v1.11': compile('v1.11'), 'v1.13': compile('v1.13') };
  return schemas;
}

/** Each document of a patch against the schema of its style: legacy machine.network → v1.11, documents → v1.13. */
export function talosSchemaErrors(text: string, version: 'v1.11' | 'v1.13'): string[] {
  const errors: string[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if ('errors' in doc && doc.errors.length > 0) { errors.push(`document ${index}: YAML: ${doc.errors[0].message}`); continue; }
    const validate = talosSchemas()[version];
    if (!validate(doc.toJS())) errors.push(`document ${index} (${version}): ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).slice(0, 4).join('; ')}`);
  }
  return errors;
}

/** Records of render dns inside a minimal zone of their own name, as named-checkzone needs (SOA, NS). */
function zoneFile(spec: Spec, records: string): { origin: string; text: string } {
  const origin = `${spec.dns!.name.replace(/\.$/, '').toLowerCase()}.`;
  return { origin, text: ['$TTL 300', `@ IN SOA ns1.${origin} hostmaster.${origin} 1 3600 600 86400 60`, `@ IN NS ns1.${origin}`, 'ns1 IN A 192.0.2.53', records].join('\n') };
}

/**
 * Writes every file of the batch under dir/<index>/<target>/ and runs the engines. Engines that cannot run are
 * reported in `runs` with the reason; their files are not checked.
 */
export async function checkEngines(batch: readonly Rendered[], dir: string, namespace: string): Promise<{ problems: EngineProblem[]; runs: EngineRun[] }> {
  const problems: EngineProblem[] = [];
  const runs: EngineRun[] = [];
  const written: Array<{ index: number; target: Target | 'units'; path: string; file: RenderedFile; spec: Spec }> = [];
  for (const item of batch) {
    const groups = [...Object.entries(item.files), ...(item.units ? [['units', item.units] as const] : [])] as Array<[Target | 'units', RenderedFile[]]>;
    for (const [target, files] of groups) {
      for (const file of files) {
        const path = join(dir, String(item.index), target, file.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.contents);
        written.push({ index: item.index, target, path, file, spec: item.spec });
      }
    }
  }
  const of = (target: Target | 'units', test: (name: string) => boolean) => written.filter((w) => w.target === target && test(w.file.path));
  const problem = (w: { index: number; path: string }, engine: string, message: string) => problems.push({ index: w.index, engine, file: w.path.slice(dir.length + 1), message });

  const engine = async (name: string, count: number, body: () => Promise<void>) => {
    if (count === 0) return;
    const skipped = ENGINE_NEEDS[name]();
    if (skipped) { runs.push({ engine: name, files: 0, ms: 0, skipped }); return; }
    const started = Date.now();
    await body();
    runs.push({ engine: name, files: count, ms: Date.now() - started });
  };

  const haproxy = of('haproxy', (p) => p.endsWith('.cfg'));
  await engine('haproxy -c', haproxy.length, () => pool(haproxy, 3, async (w) => {
    const output = await run('haproxy', ['-c', '-dr', '-f', w.path]);
    const file: HaproxyFile = { kind: 'haproxy', path: w.path, text: w.file.contents, config: parseHaproxy(w.file.contents) };
    for (const f of parseHaproxyCheck(`${output.stdout}\n${output.stderr}`, w.path, file)) if (f.severity !== 'info') problem(w, 'haproxy -c', `line ${f.line}: ${f.message}`);
    if (output.code !== 0 && !parseHaproxyCheck(`${output.stdout}\n${output.stderr}`, w.path, file).some((f) => f.severity === 'info')) problem(w, 'haproxy -c', `exit ${output.code}: ${output.stderr.trim().slice(0, 400)}`);
  }));

  const keepalived = of('keepalived', (p) => p.endsWith('keepalived.conf'));
  await engine('keepalived -t', keepalived.length, async () => {
    const parsed = keepalived.map((w) => ({ w, file: { kind: 'keepalived', path: w.path, text: w.file.contents, config: parseKeepalived(w.file.contents) } as KeepalivedFile }));
    const names = [...new Set(parsed.flatMap(({ file }) => interfaceNames(file.config.nodes)))];
    const created = await run('ip', ['netns', 'add', namespace]);
    if (created.code !== 0) throw new Error(`ip netns add ${namespace}: ${created.stderr}`);
    try {
      for (const [i, name] of names.entries()) {
        const link = await run('ip', ['-n', namespace, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `cefp${i}`]);
        if (link.code !== 0) throw new Error(`ip link add ${name}: ${link.stderr}`);
      }
      await pool(parsed, 3, async ({ w, file }) => {
        const output = await run('ip', ['netns', 'exec', namespace, 'keepalived', '-t', '-e', '-l', '-f', w.path]);
        for (const f of parseKeepalivedCheck(`${output.stderr}\n${output.stdout}`, file)) if (f.severity !== 'info') problem(w, 'keepalived -t', `line ${f.line}: ${f.message}`);
        if (output.code !== 0 && output.stderr.trim() === '') problem(w, 'keepalived -t', `exit ${output.code} without a message`);
      });
    } finally {
      await run('ip', ['netns', 'del', namespace]);
    }
  });

  const bird = of('bird', (p) => p.endsWith('bird.conf'));
  await engine('bird -p', bird.length, () => pool(bird, 3, async (w) => {
    const output = await run('bird', ['-p', '-c', w.path]);
    if (output.code !== 0 || output.stderr.trim()) problem(w, 'bird -p', `exit ${output.code}: ${(output.stderr + output.stdout).trim().slice(0, 400)}`);
  }));

  const rules = of('prometheus', (p) => p.endsWith('.rules.yml'));
  await engine('promtool check rules', rules.length, async () => {
    const output = await run('promtool', ['check', 'rules', ...rules.map((w) => w.path)]);
    if (output.code === 0) return;
    // "Checking FILE" then "  SUCCESS: n rules found" or "  FAILED:" and the errors, per file.
    const text = `${output.stdout}\n${output.stderr}`;
    for (const w of rules) {
      const section = text.split(`Checking ${w.path}`)[1]?.split(/\nChecking /)[0] ?? '';
      if (!/SUCCESS/.test(section)) problem(w, 'promtool check rules', section.trim().slice(0, 400) || text.slice(0, 400));
    }
  });
  const dashboards = of('prometheus', (p) => p.endsWith('.json'));
  for (const w of dashboards) { try { JSON.parse(w.file.contents); } catch (error) { problem(w, 'JSON', (error as Error).message); } }

  const terraform = written.filter((w) => /\.(tf|tfvars)$/.test(w.path));
  await engine('terraform fmt -check', terraform.length, async () => {
    // One call over the whole batch: it lists the files it would reformat, and reports files it cannot parse.
    const output = await run('terraform', ['fmt', '-check', '-list=true', '-recursive', dir]);
    if (output.code === 0) return;
    const listed = new Set(output.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
    for (const w of terraform) {
      if (listed.has(w.path) || listed.has(w.path.slice(dir.length + 1))) problem(w, 'terraform fmt -check', 'not in terraform fmt style');
      if (output.stderr.includes(w.path)) problem(w, 'terraform fmt -check', output.stderr.split(w.path)[1].slice(0, 400));
    }
    if (!terraform.some((w) => listed.has(w.path) || output.stderr.includes(w.path))) problems.push({ index: -1, engine: 'terraform fmt -check', file: dir, message: `exit ${output.code}: ${(output.stderr || output.stdout).slice(0, 400)}` });
  });

  // HashiCorp's HCL parser (Go, as WebAssembly) on every Terraform file: runs where terraform is not installed.
  await engine('HCL parse (@cdktn/hcl2json)', terraform.length, async () => {
    const { parse } = await import('@cdktn/hcl2json');
    for (const w of terraform) {
      try { await parse(w.file.path, w.file.contents); } catch (error) { problem(w, 'HCL parse (@cdktn/hcl2json)', String((error as Error).message ?? error).slice(0, 400)); }
    }
  });

  const talos = of('talos', (p) => p.endsWith('.yaml'));
  await engine('Talos schemas', talos.length, async () => {
    for (const w of talos) {
      for (const error of talosSchemaErrors(w.file.contents, w.spec.talos.configStyle === 'legacy' ? 'v1.11' : 'v1.13')) problem(w, 'Talos schemas', error);
    }
  });

  const zones = of('dns', (p) => p.endsWith('.zone'));
  await engine('named-checkzone', zones.length, () => pool(zones, 3, async (w) => {
    const zone = zoneFile(w.spec, w.file.contents);
    const path = `${w.path}.checked`;
    await writeFile(path, zone.text);
    const output = await run('named-checkzone', [zone.origin, path]);
    if (output.code !== 0 || /ignoring|warning/i.test(output.stdout)) problem(w, 'named-checkzone', `${output.stdout}${output.stderr}`.trim().slice(0, 400));
  }));

  // The builtin units (rendered with an ExecStart that exists) and the BIRD health unit, renamed so that one call
  // can verify them all; systemd names the unit file in every message.
  const units = [...of('units', (p) => p.endsWith('.service')), ...of('bird', (p) => p.endsWith('.service'))];
  await engine('systemd-analyze verify', units.length, async () => {
    const copies = await Promise.all(units.map(async (w, i) => {
      const copy = join(dir, 'units', `ce-fleet-${w.index}-${i}.service`);
      await mkdir(dirname(copy), { recursive: true });
      await writeFile(copy, w.file.contents);
      return { w, copy };
    }));
    for (let i = 0; i < copies.length; i += 40) {
      const chunk = copies.slice(i, i + 40);
      const output = await run('systemd-analyze', ['verify', ...chunk.map((c) => c.copy)]);
      for (const line of output.stderr.split('\n').filter(Boolean)) {
        const owner = chunk.find((c) => line.includes(c.copy.split('/').at(-1)!));
        // The BIRD health unit runs a script the user installs at a fixed path; it does not exist here.
        if (owner?.w.target === 'bird' && /bgp-health\.sh is not executable/.test(line)) continue;
        if (owner) problem(owner.w, 'systemd-analyze verify', line);
        else problems.push({ index: -1, engine: 'systemd-analyze verify', file: '', message: line });
      }
    }
  });

  const scripts = written.filter((w) => w.path.endsWith('.sh'));
  await engine('sh -n', scripts.length, () => pool(scripts, 3, async (w) => {
    const output = await run('sh', ['-n', w.path]);
    if (output.code !== 0) problem(w, 'sh -n', output.stderr.trim().slice(0, 400));
  }));
  return { problems, runs };
}
