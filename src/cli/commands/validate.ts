import { EXIT } from '../../errors.js';
import { loadSpecFile, SpecInvalidError } from '../../spec/load.js';
import { formatProblem } from '../../spec/problem.js';
import { errorJson, type Io } from '../command.js';

export interface ValidateOptions { config: string; json?: boolean }

/** Prints every problem of the spec; 0 when valid, 2 when not. */
export async function validate(options: ValidateOptions, io: Io): Promise<number> {
  const file = options.config;
  const result = await loadSpecFile(file);
  if (options.json) {
    const error = result.spec ? undefined : errorJson(new SpecInvalidError(file, result.problems));
    io.stdout.write(`${JSON.stringify({ file, valid: result.spec !== undefined, problems: result.problems, ...(error ? { error: { code: error.code, message: error.message } } : {}) }, null, 2)}\n`);
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
}
