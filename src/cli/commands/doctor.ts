import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFinding, formatSummary } from '../../doctor/format.js';
import { detectKind } from '../../doctor/detect.js';
import { withClusterDrift } from '../../doctor/cluster-drift.js';
import { DOCTOR_LIMITS } from '../../doctor/limits.js';
import { runDoctor, type DoctorInput } from '../../doctor/run.js';
import { EXIT, UserError } from '../../errors.js';
import { readTextFile } from '../../read-file.js';
import { usage, type Io } from '../command.js';

/** `engines` is false with --no-engines (commander's negatable flag); the engines run when installed otherwise. */
export interface DoctorOptions { files: string[]; json?: boolean; haproxyVersion?: string; talosVersion?: string; engines?: boolean }

export async function doctor(options: DoctorOptions, io: Io): Promise<number> {
  for (const [flag, value, example] of [['--haproxy-version', options.haproxyVersion, '3.3'], ['--talos-version', options.talosVersion, '1.12']] as const) {
    if (value !== undefined && !/^v?\d+\.\d+(\.\d+)?$/.test(value)) throw usage(`${flag} "${value}" is not a version`, `write it as major.minor, e.g. ${flag} ${example}`);
  }
  let paths = options.files;
  if (paths.length === 0) {
    if (!existsSync('endpoint.yaml')) throw usage('no files given and ./endpoint.yaml does not exist', 'run cluster-endpoint doctor endpoint.yaml haproxy.cfg keepalived.conf ...');
    paths = ['endpoint.yaml'];
  }
  const inputs: DoctorInput[] = [];
  for (const path of paths) inputs.push(...(await readInputs(path)));
  // A spec with discovery.kubernetes is also compared with the cluster's own list of API servers (drift).
  const report = await withClusterDrift(await runDoctor(inputs, { haproxyVersion: options.haproxyVersion, talosVersion: options.talosVersion, engines: options.engines !== false }), inputs);
  if (options.json) {
    const error = report.counts.error > 0 ? { error: { code: 'DOCTOR_FINDINGS', message: `${report.counts.error} finding(s) of severity error` } } : {};
    io.stdout.write(`${JSON.stringify({ files: report.files, findings: report.findings, counts: report.counts, engines: report.engines, ...error }, null, 2)}\n`);
  } else {
    for (const finding of report.findings) io.stdout.write(`${formatFinding(finding)}\n`);
    io.stdout.write(`${formatSummary(report)}\n`);
  }
  return report.counts.error > 0 ? EXIT.failure : EXIT.ok;
}

/** A file, or the recognised files under a directory (hidden entries and node_modules/.terraform skipped). */
async function readInputs(path: string): Promise<DoctorInput[]> {
  try {
    if (!(await stat(path)).isDirectory()) return [await readInput(path)];
    const inputs: DoctorInput[] = [];
    for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) inputs.push(...(await readInputs(child)));
      else if (entry.isFile()) {
        const input = await readInput(child);
        if (input.unreadable !== undefined || detectKind(child, input.text)) inputs.push(input);
      }
    }
    return inputs;
  } catch (error) {
    if (error instanceof UserError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UserError('USAGE', `cannot read ${path}: ${reason}`, { hint: INPUT_HINT, exitCode: EXIT.invalid });
  }
}

const INPUT_HINT = 'pass existing files or directories: the spec, haproxy.cfg, keepalived.conf, Talos configs, .tf/.tfvars';

/** One file, read with bounds: a file over DOCTOR_LIMITS.bytes becomes a finding; a FIFO or a device is a usage error. */
async function readInput(path: string): Promise<DoctorInput> {
  try {
    return { path, text: await readTextFile(path, { maxBytes: DOCTOR_LIMITS.bytes, codes: { file: 'USAGE', limit: 'SPEC_LIMIT' }, hint: INPUT_HINT, exitCode: EXIT.invalid }) };
  } catch (error) {
    if (error instanceof UserError && error.code === 'SPEC_LIMIT') return { path, text: '', unreadable: `the file is larger than ${DOCTOR_LIMITS.bytes / 1024 / 1024} MiB; doctor did not read it` };
    throw error;
  }
}
