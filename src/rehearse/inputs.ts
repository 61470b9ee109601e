// What rehearse was given, read once and sorted: the spec, the user's haproxy.cfg and keepalived.conf files,
// Talos machine configs and kubeadm configs (for how kube-apiserver runs), and every other file — a check
// script a keepalived.conf names by path is taken from these, by name.
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { detectKind } from '../doctor/detect.js';
import { parseHaproxy, type HaproxyConfig } from '../doctor/parsers/haproxy.js';
import { parseKeepalived, type KeepalivedConfig } from '../doctor/parsers/keepalived.js';
import { DISK, expandIncludes, type LineOrigin } from '../doctor/keepalived-include.js';
import { EXIT, UserError } from '../errors.js';
import { parseSpec } from '../spec/load.js';
import type { Spec } from '../spec/types.js';

export interface GivenFile { path: string; text: string }
export interface HaproxyInput extends GivenFile { config: HaproxyConfig }
export interface KeepalivedInput extends GivenFile {
  config: KeepalivedConfig;
  /** With `include` expanded: where each line of `text` came from (causes point there). */
  origins?: LineOrigin[];
}
/** A YAML file with its documents as plain data (Talos machine config or patch, kubeadm configuration). */
export interface YamlInput extends GivenFile { documents: Array<Record<string, unknown>> }
export interface OtherInput extends GivenFile { name: string; mode: number }

export interface RehearsalInputs {
  spec?: { path: string; text: string; spec: Spec };
  haproxy: HaproxyInput[];
  keepalived: KeepalivedInput[];
  talos: YamlInput[];
  kubeadm: YamlInput[];
  /** Files of no known kind: scripts and whatever else the configs may name by path. */
  others: OtherInput[];
}

/** Sorts files by kind; pure (the texts are given). */
export function classify(files: Array<GivenFile & { mode?: number; origins?: LineOrigin[] }>, spec?: RehearsalInputs['spec']): RehearsalInputs {
  const inputs: RehearsalInputs = { ...(spec ? { spec } : {}), haproxy: [], keepalived: [], talos: [], kubeadm: [], others: [] };
  for (const file of files) {
    const documents = yamlDocuments(file.text);
    if (documents.some((d) => typeof d.apiVersion === 'string' && d.apiVersion.startsWith('kubeadm.k8s.io/'))) {
      inputs.kubeadm.push({ path: file.path, text: file.text, documents });
      continue;
    }
    switch (detectKind(file.path, file.text)) {
      case 'haproxy': inputs.haproxy.push({ path: file.path, text: file.text, config: parseHaproxy(file.text) }); break;
      case 'keepalived': inputs.keepalived.push({ path: file.path, text: file.text, config: parseKeepalived(file.text), ...(file.origins ? { origins: file.origins } : {}) }); break;
      case 'talos': inputs.talos.push({ path: file.path, text: file.text, documents }); break;
      case 'spec':
        throw new UserError('USAGE', `${file.path} is a spec: give it with -c`, { hint: `cluster-endpoint rehearse -c ${file.path} haproxy.cfg keepalived.conf …`, exitCode: EXIT.invalid });
      default: inputs.others.push({ path: file.path, text: file.text, name: basename(file.path), mode: file.mode ?? 0o644 });
    }
  }
  return inputs;
}

function yamlDocuments(text: string): Array<Record<string, unknown>> {
  try {
    return parseAllDocuments(text).map((d) => d.toJS() as unknown).filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d));
  } catch {
    return [];
  }
}

/** Reads the files (keepalived includes expanded, as keepalived reads them) and the spec. */
export async function readInputs(paths: string[], specPath: string | undefined): Promise<RehearsalInputs> {
  const files: Array<GivenFile & { mode: number; origins?: LineOrigin[] }> = [];
  for (const path of paths) {
    try {
      const info = await stat(path);
      if (info.isDirectory()) throw new UserError('USAGE', `${path} is a directory`, { hint: 'give the files themselves: haproxy.cfg, keepalived.conf (one per LB host), check scripts, Talos or kubeadm configs', exitCode: EXIT.invalid });
      const text = await readFile(path, 'utf8');
      // keepalived reads its includes relative to the including file: the lab runs the text whole.
      const expanded = detectKind(path, text) === 'keepalived' ? await expandIncludes(path, text, DISK) : undefined;
      files.push({ path, text: expanded?.text ?? text, mode: info.mode & 0o7777, ...(expanded ? { origins: expanded.origins } : {}) });
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError('USAGE', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { hint: 'give existing files: haproxy.cfg, keepalived.conf, check scripts, Talos or kubeadm configs', exitCode: EXIT.invalid });
    }
  }
  let spec: RehearsalInputs['spec'];
  if (specPath) {
    let text: string;
    try {
      text = await readFile(specPath, 'utf8');
    } catch {
      throw new UserError('SPEC_FILE', `cannot read the spec ${specPath}`, { hint: 'pass an existing endpoint.yaml with -c', exitCode: EXIT.invalid });
    }
    const loaded = parseSpec(text, specPath);
    if (!loaded.spec) {
      const first = loaded.problems[0];
      throw new UserError('SPEC_VALUE', `${specPath} is not a valid spec: ${first?.message ?? 'see cluster-endpoint validate'}`, { hint: `run cluster-endpoint validate -c ${specPath}`, exitCode: EXIT.invalid });
    }
    spec = { path: specPath, text, spec: loaded.spec };
  }
  return classify(files, spec);
}
