#!/usr/bin/env node
// A thin, lazy shell: find the command, run it, turn errors into one line and an exit code.
import { UserError } from '../errors.js';
import { SpecInvalidError } from '../spec/load.js';
import { formatProblem } from '../spec/problem.js';
import type { Command } from './command.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  serve: { summary: 'run the built-in L4 balancer (and the VIP when the spec has one)', load: () => import('./commands/serve.js') },
  validate: { summary: 'check a spec and print every problem', load: () => import('./commands/validate.js') },
  schema: { summary: 'print the JSON Schema of endpoint.yaml', load: () => import('./commands/schema.js') },
  drain: { summary: 'stop sending new connections to a node (all listeners) of a running balancer', load: () => import('./commands/drain.js') },
  undrain: { summary: 'return a drained node to service', load: () => import('./commands/undrain.js') },
  status: { summary: 'print the status of a running balancer', load: () => import('./commands/status.js') },
  demo: { summary: 'run the balancer in front of three simulated control-plane nodes', load: () => import('./commands/demo.js') },
  render: { summary: 'write configuration for aws, haproxy, keepalived, talos, dns, clients, builtin', load: () => import('./commands/render.js') },
  probe: { summary: 'check a live endpoint and every node on every listener', load: () => import('./commands/probe.js') },
  watch: { summary: 'open connections continuously and report outage windows', load: () => import('./commands/watch.js') },
  doctor: { summary: 'find known mistakes in a spec and in haproxy, keepalived, Talos and Terraform files', load: () => import('./commands/doctor.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: cluster-endpoint <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun cluster-endpoint <command> --help for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { VERSION } = await import('../version.js');
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`error: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const { command } = await entry.load();
    return await command(rest, { stdout: process.stdout, stderr: process.stderr });
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
  if (error instanceof Error && (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (error as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${(error as Error).message}\n  fix: run with --help to see the options\n`);
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.CLUSTER_ENDPOINT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => { process.exitCode = reportError(error); },
);
