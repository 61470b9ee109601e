import { parseArgs } from 'node:util';
import { EXIT } from '../../errors.js';
import { loadSpecFile } from '../../spec/load.js';
import { formatProblem } from '../../spec/problem.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint validate -c FILE [--json]

Checks a spec and prints every problem with its path, line and a fix.
Exit codes: 0 valid (warnings may be printed), 2 invalid.`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c', default: 'endpoint.yaml' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout.write(`${HELP}\n`); return EXIT.ok; }
  const file = values.config as string;
  const result = await loadSpecFile(file);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ file, valid: result.spec !== undefined, problems: result.problems }, null, 2)}\n`);
  } else {
    for (const problem of result.problems) io.stderr.write(`${formatProblem(problem, file)}\n`);
    if (result.spec) {
      const s = result.spec;
      io.stdout.write(`${file}: valid — ${s.listeners.length} listener(s) (${s.listeners.map((l) => `${l.name}:${l.port}`).join(', ')}), ${s.controlPlane.length} control-plane node(s), ${s.workers.length} worker(s)\n`);
    } else {
      io.stderr.write(`${file}: ${result.problems.filter((p) => p.severity === 'error').length} problem(s); the spec is invalid\n`);
    }
  }
  return result.spec ? EXIT.ok : EXIT.invalid;
};
