#!/usr/bin/env node
// A thin, lazy shell: program.ts declares the commands and runs the one asked for; here errors become one line
// and an exit code.
import { UserError } from '../errors.js';
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

// rehearse starts this program again inside its lab as an agent (src/rehearse/self.ts, agent.ts).
const agent = process.env.CLUSTER_ENDPOINT_REHEARSE_AGENT;
(agent ? import('../rehearse/agent.js').then((m) => m.runAgent(agent)).then(() => undefined) : main(process.argv.slice(2))).then(
  (code) => { if (code !== undefined) process.exitCode = code; },
  (error: unknown) => { process.exitCode = reportError(error); },
);
