#!/usr/bin/env node
// A thin, lazy shell: program.ts declares the commands and runs the one asked for; here errors become one line
// and an exit code.
import { UserError } from '../errors.js';
import { blockedReads, dieBySignal } from '../read-file.js';
import { SpecInvalidError } from '../spec/load.js';
import { formatProblem } from '../spec/problem.js';
import { runProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  try {
    return await runProgram(argv, { stdout: process.stdout, stderr: process.stderr });
  } catch (error) {
    return reportError(error);
  }
}

export function reportError(error: unknown): number {
  if (error instanceof SpecInvalidError) {
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem, error.file)}\n`);
    return error.exitCode;
  }
  if (error instanceof UserError) {
    process.stderr.write(`error: ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ''}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.CLUSTER_ENDPOINT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

// `cluster-endpoint schema | head`: a reader that goes away is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => { process.exitCode = reportError(error); },
).then(() => {
  // A read given up on a hung file system still holds a thread that a normal exit would wait for (src/read-file.ts).
  if (blockedReads() > 0) dieBySignal();
});
