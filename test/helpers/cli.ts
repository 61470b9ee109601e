import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx's loader by URL, so the CLI runs under tsx from any working directory. */
export const TSX = import.meta.resolve('tsx');
/**
 * How a test starts the CLI: the compiled one when `npm test` has just built it (test/run.sh says so: it starts
 * in half the time of tsx, and the suite starts it a few thousand times), else the sources under tsx.
 */
export const CLI_ARGS: readonly string[] = process.env.CLUSTER_ENDPOINT_TEST_BUILT === '1'
  ? [fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))]
  : ['--import', TSX, CLI];

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the real CLI (under tsx) as a child process and collects its output. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** Skips locally with a printed reason; under CI a missing prerequisite is a failure. */
export function requireOrSkip(t: { skip(message?: string): void }, ok: boolean, reason: string): boolean {
  if (ok) return true;
  if (process.env.CI) throw new Error(`prerequisite missing under CI: ${reason}`);
  process.stdout.write(`# skipped: ${reason}\n`);
  t.skip(reason);
  return false;
}
