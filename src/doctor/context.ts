// The files doctor was given, parsed once, and what rules may know about all of them together
// (a keepalived peer's priority, a Terraform variable's value, the spec's endpoint and VIP).
import type { LoadResult } from '../spec/load.js';
import type { IncludeReader } from './keepalived-include.js';
import type { Spec } from '../spec/types.js';
import type { RuleFinding } from './finding.js';
import type { BirdConfig } from './parsers/bird.js';
import type { HaproxyConfig } from './parsers/haproxy.js';
import type { KeepalivedConfig } from './parsers/keepalived.js';
import type { TerraformFile, TerraformVariables } from './parsers/terraform.js';
import type { YamlFile } from './parsers/yaml-documents.js';

export const FILE_KINDS = ['spec', 'haproxy', 'keepalived', 'talos', 'talosconfig', 'terraform', 'bird'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

interface Base { path: string; text: string }
export interface SpecFile extends Base { kind: 'spec'; result: LoadResult; yaml: YamlFile }
export interface HaproxyFile extends Base { kind: 'haproxy'; config: HaproxyConfig }
export interface KeepalivedFile extends Base { kind: 'keepalived'; config: KeepalivedConfig }
export interface BirdFile extends Base { kind: 'bird'; config: BirdConfig }
export interface TalosFile extends Base { kind: 'talos'; yaml: YamlFile }
export interface TalosconfigFile extends Base { kind: 'talosconfig'; yaml: YamlFile }
/** A .tf or .tfvars file. */
export interface TerraformSource extends Base { kind: 'terraform'; terraform: TerraformFile }

export type ParsedFile = SpecFile | HaproxyFile | KeepalivedFile | TalosFile | TalosconfigFile | TerraformSource | BirdFile;
export type FileOfKind<K extends FileKind> = Extract<ParsedFile, { kind: K }>;

export interface DoctorOptions {
  /** HAProxy version the haproxy.cfg targets (e.g. "3.3"); else read from a comment such as `# haproxy 3.3`. */
  haproxyVersion?: string;
  /** Talos version the machine configs target (e.g. "1.12"). */
  talosVersion?: string;
  /** Also run the engines' own checks (haproxy -c, keepalived -t, terraform fmt -check) when installed. */
  engines?: boolean;
  /** Where keepalived `include` statements are read from (default: the disk, relative to the including file). */
  includes?: IncludeReader;
}

export interface DoctorContext {
  options: DoctorOptions;
  files: ParsedFile[];
  /** The normalized spec, when a valid spec was among the files. */
  spec?: Spec;
  /** Terraform variables known statically (defaults, then .tfvars). */
  variables: TerraformVariables;
}

/** A rule: one trap, one small pure function from a parsed file (and what is known about the others) to findings. */
export interface DoctorRule<K extends FileKind = FileKind> {
  id: string;
  kind: K;
  check(file: FileOfKind<K>, context: DoctorContext): RuleFinding[];
}

export type AnyRule = { [K in FileKind]: DoctorRule<K> }[FileKind];

export function defineRule<K extends FileKind>(rule: DoctorRule<K>): DoctorRule<K> {
  return rule;
}

/** True when `version` ("3.3", "v1.12.1") is at least `minimum` ("3.3"). */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => v.replace(/^v/, '').split('.').map((x) => Number.parseInt(x, 10) || 0);
  const [a, b] = [parse(version), parse(minimum)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
