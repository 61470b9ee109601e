#!/usr/bin/env node
// A thin, lazy shell: program.ts declares the commands and runs the one asked for; here errors become one line
// and an exit code.
import { blockedReads, dieBySignal } from '../read-file.js';
import { exitCodeOf, formatError } from './command.js';
import { runProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  try {
    return await runProgram(argv, { stdout: process.stdout, stderr: process.stderr });
  } catch (error) {
    return reportError(error);
  }
}

export function reportError(error: unknown): number {
  process.stderr.write(formatError(error));
  return exitCodeOf(error);
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
).then(() => {
  // A read given up on a hung file system still holds a thread that a normal exit would wait for (src/read-file.ts).
  if (blockedReads() > 0) dieBySignal();
});
