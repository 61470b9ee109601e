import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFinding, formatSummary } from '../../doctor/format.js';
import { detectKind } from '../../doctor/detect.js';
import { runDoctor, type DoctorInput } from '../../doctor/run.js';
import { EXIT, UserError } from '../../errors.js';
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
  const report = await runDoctor(inputs, { haproxyVersion: options.haproxyVersion, talosVersion: options.talosVersion, engines: options.engines !== false });
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
    if (!(await stat(path)).isDirectory()) return [{ path, text: await readFile(path, 'utf8') }];
    const inputs: DoctorInput[] = [];
    for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) inputs.push(...(await readInputs(child)));
      else if (entry.isFile()) {
        const text = await readFile(child, 'utf8');
        if (detectKind(child, text)) inputs.push({ path: child, text });
      }
    }
    return inputs;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UserError('USAGE', `cannot read ${path}: ${reason}`, { hint: 'pass existing files or directories: the spec, haproxy.cfg, keepalived.conf, Talos configs, .tf/.tfvars', exitCode: EXIT.invalid });
  }
}
