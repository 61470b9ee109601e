import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFinding, formatSummary } from '../../doctor/format.js';
import { detectKind } from '../../doctor/detect.js';
import { runDoctor, type DoctorInput } from '../../doctor/run.js';
import { EXIT, UserError } from '../../errors.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint doctor [FILES...] [--json] [--haproxy-version X.Y] [--talos-version X.Y]

Finds known mistakes in a spec and in hand-written haproxy.cfg, keepalived.conf, Talos machine configs
and patches, talosconfig, and Terraform .tf/.tfvars files (recognised by name or content).
A directory stands for the files in it (recursively) that doctor recognises.
Without FILES it checks ./endpoint.yaml. Several keepalived.conf files are compared with each other
(priorities of peers); .tfvars values resolve variables used in .tf files.

  --haproxy-version X.Y   HAProxy version the haproxy.cfg targets (else read from a "# haproxy X.Y" comment)
  --talos-version X.Y     Talos version the machine configs target (else guessed from the documents)
  --json                  machine-readable report

Exit codes: 0 no finding of severity error, 1 at least one error, 2 usage.`;

export const command: Command = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'haproxy-version': { type: 'string' }, 'talos-version': { type: 'string' },
    },
  });
  if (values.help) { io.stdout.write(`${HELP}\n`); return EXIT.ok; }
  for (const flag of ['haproxy-version', 'talos-version'] as const) {
    const value = values[flag];
    if (value !== undefined && !/^v?\d+\.\d+(\.\d+)?$/.test(value)) throw new UserError('USAGE', `--${flag} "${value}" is not a version`, { hint: `write it as major.minor, e.g. --${flag} ${flag === 'haproxy-version' ? '3.3' : '1.12'}`, exitCode: EXIT.invalid });
  }
  let paths = positionals;
  if (paths.length === 0) {
    if (!existsSync('endpoint.yaml')) throw new UserError('USAGE', 'no files given and ./endpoint.yaml does not exist', { hint: 'run cluster-endpoint doctor endpoint.yaml haproxy.cfg keepalived.conf ...', exitCode: EXIT.invalid });
    paths = ['endpoint.yaml'];
  }
  const inputs: DoctorInput[] = [];
  for (const path of paths) inputs.push(...(await readInputs(path)));
  const report = await runDoctor(inputs, { haproxyVersion: values['haproxy-version'], talosVersion: values['talos-version'] });
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ files: report.files, findings: report.findings, counts: report.counts }, null, 2)}\n`);
  } else {
    for (const finding of report.findings) io.stdout.write(`${formatFinding(finding)}\n`);
    io.stdout.write(`${formatSummary(report)}\n`);
  }
  return report.counts.error > 0 ? EXIT.failure : EXIT.ok;
};

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
