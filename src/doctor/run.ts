// doctor's core: parse every file once, run every rule of its kind, collect findings with file:line.
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { parseSpec } from '../spec/load.js';
import type { DoctorContext, DoctorOptions, ParsedFile } from './context.js';
import { detectKind } from './detect.js';
import type { EngineRun } from './engines/engine.js';
import { runEngines } from './engines/engine.js';
import { ENGINES } from './engines/index.js';
import { compareFindings, type Finding } from './finding.js';
import { DISK, expandIncludes, type ExpandedFile } from './keepalived-include.js';
import { DOCTOR_LIMITS, limitFinding, nestingExcess } from './limits.js';
import { parseHaproxy } from './parsers/haproxy.js';
import { parseBird } from './parsers/bird.js';
import { parseKeepalived } from './parsers/keepalived.js';
import { collectVariables, parseTerraform } from './parsers/terraform.js';
import { isJsonPatch, patchedDocument } from './parsers/json-patch.js';
import { parseYamlDocuments, type YamlFile } from './parsers/yaml-documents.js';
import { RULES } from './rules/index.js';

export interface DoctorInput {
  path: string;
  text: string;
  /** Why the file was not read (over the size bound, not a regular file): a doctor/limit finding. */
  unreadable?: string;
}

export interface DoctorReport {
  files: Array<{ path: string; kind: ParsedFile['kind'] | 'unknown' }>;
  findings: Finding[];
  counts: { error: number; warning: number; info: number };
  /** Which engines ran (or why not); empty when engines were not asked for. */
  engines: EngineRun[];
}

export async function runDoctor(inputs: DoctorInput[], options: DoctorOptions = {}): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const files: ParsedFile[] = [];
  const listed: DoctorReport['files'] = [];
  const expanded = await keepalivedIncludes(inputs, options);
  const includedElsewhere = new Set([...expanded.values()].flatMap((e) => e.included));
  for (const input of inputs) {
    if (input.unreadable !== undefined) {
      listed.push({ path: input.path, kind: 'unknown' });
      findings.push(limitFinding(input.path, 1, input.unreadable));
      continue;
    }
    const bytes = Buffer.byteLength(input.text);
    if (bytes > DOCTOR_LIMITS.bytes) {
      listed.push({ path: input.path, kind: 'unknown' });
      findings.push(limitFinding(input.path, 1, `the file is ${(bytes / 1024 / 1024).toFixed(1)} MiB; doctor reads at most ${DOCTOR_LIMITS.bytes / 1024 / 1024} MiB`));
      continue;
    }
    const kind = detectKind(input.path, input.text);
    listed.push({ path: input.path, kind: kind ?? 'unknown' });
    // Before any parser (detection above parses only what is shallow enough): depth costs parsers stack.
    const deep = nestingExcess(kind, input.text);
    if (deep) {
      findings.push(limitFinding(input.path, deep.line, `the file nests more than ${DOCTOR_LIMITS.depth} levels deep here (column ${deep.column})`));
      continue;
    }
    // A file another keepalived.conf includes is checked as part of that file, never out of its context.
    if (kind === 'keepalived' && includedElsewhere.has(resolve(input.path))) continue;
    if (!kind) {
      findings.push({
        rule: 'doctor/unknown-file', severity: 'error', file: input.path, line: 1,
        message: 'doctor cannot tell what kind of file this is',
        why: 'doctor checks a spec, haproxy.cfg, keepalived.conf, bird.conf, Talos machine configs and patches, a talosconfig, and Terraform .tf/.tfvars; it recognises them by name or content',
        source: 'docs/doctor.md', fix: 'name the file after what it is (haproxy.cfg, keepalived.conf, talosconfig, *.tf) or leave it out',
      });
      continue;
    }
    let parsed: ParsedFile | undefined;
    try {
      parsed = await parse(kind, { ...input, text: expanded.get(input.path)?.text ?? input.text }, findings);
    } catch (error) {
      // A parser that recursed too deep after all: a finding, never a crash.
      if (!(error instanceof RangeError)) throw error;
      findings.push(limitFinding(input.path, 1, 'the file is too deeply nested or too large to parse'));
    }
    if (parsed) files.push(parsed);
  }
  const specFile = files.find((f) => f.kind === 'spec');
  const context: DoctorContext = {
    options, files,
    spec: specFile?.kind === 'spec' ? specFile.result.spec : undefined,
    variables: collectVariables(files.flatMap((f) => (f.kind === 'terraform' ? [f.terraform] : []))),
  };
  for (const file of files) {
    for (const rule of RULES) {
      if (rule.kind !== file.kind) continue;
      for (const found of (rule.check as (f: ParsedFile, c: DoctorContext) => ReturnType<typeof rule.check>)(file, context)) {
        findings.push({ ...found, rule: found.rule ?? rule.id, file: found.file ?? file.path });
      }
    }
  }
  let engines: EngineRun[] = [];
  if (options.engines) {
    const ran = await runEngines(ENGINES, files);
    findings.push(...mergeEngineFindings(findings, ran.findings));
    engines = ran.runs;
  }
  for (const finding of findings) {
    const origin = expanded.get(finding.file)?.origins[finding.line - 1];
    if (origin) { finding.file = origin.file; finding.line = origin.line; }
  }
  findings.sort(compareFindings);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { files: listed, findings, counts, engines };
}

/** keepalived files with their include statements expanded (keepalived-include.ts), by path as given. */
async function keepalivedIncludes(inputs: DoctorInput[], options: DoctorOptions): Promise<Map<string, ExpandedFile>> {
  const expanded = new Map<string, ExpandedFile>();
  for (const input of inputs) {
    if (detectKind(input.path, input.text) !== 'keepalived') continue;
    const file = await expandIncludes(input.path, input.text, options.includes ?? DISK);
    if (file) expanded.set(input.path, file);
  }
  return expanded;
}

async function parse(kind: ParsedFile['kind'], input: DoctorInput, findings: Finding[]): Promise<ParsedFile | undefined> {
  const { path, text } = input;
  switch (kind) {
    case 'spec':
      return { kind, path, text, result: parseSpec(text, path), yaml: parseYamlDocuments(text) };
    case 'haproxy':
      return { kind, path, text, config: parseHaproxy(text) };
    case 'keepalived':
      return { kind, path, text, config: parseKeepalived(text) };
    case 'bird':
      return { kind, path, text, config: parseBird(text) };
    case 'talos':
    case 'talosconfig': {
      const parsed = parseYamlDocuments(text);
      for (const error of parsed.errors) findings.push(syntaxFinding(path, error.line, error.message, 'fix the YAML syntax at this line'));
      // A JSON 6902 patch is checked for what it adds.
      const yaml: YamlFile = { ...parsed, documents: parsed.documents.map((d) => (isJsonPatch(d.data) ? patchedDocument({ ...d, data: d.data }) : d)) };
      return { kind, path, text, yaml };
    }
    case 'terraform':
      try {
        return { kind, path, text, terraform: await parseTerraform(path, text) };
      } catch (error) {
        if (error instanceof UserError) throw error;
        const message = (error as Error).message;
        const line = Number(/:(\d+),\d+/.exec(message)?.[1] ?? 1);
        findings.push(syntaxFinding(path, line, message.replace(/^parse config: \[?/, '').replace(/\]$/, '').split(';')[0], 'fix the HCL syntax at this line (terraform fmt shows it too)'));
        // No rule can read it, but terraform fmt -check still gives its own verdict.
        return { kind, path, text, terraform: { path, text, json: {} } };
      }
  }
}

/**
 * An engine finding on a line where a rule already found something of the same severity is the same
 * problem said twice: the rule's finding keeps its fix and cites the engine's words; the rest are new.
 */
function mergeEngineFindings(found: Finding[], fromEngines: Finding[]): Finding[] {
  return fromEngines.filter((e) => {
    const same = found.find((f) => f.file === e.file && f.line === e.line && f.severity === e.severity);
    if (!same) return true;
    same.why = `${same.why} (${e.message})`;
    return false;
  });
}

function syntaxFinding(file: string, line: number, message: string, fix: string): Finding {
  return { rule: 'doctor/syntax', severity: 'error', file, line, message, why: 'a file that does not parse cannot be checked (and will not load)', source: 'docs/doctor.md', fix };
}
