// The demo as a child process, as a user runs it: shared by the demo tests.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { CLI, ROOT } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';

export interface DemoProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  /** Resolves the first match of pattern in stdout (searched from `from`), or rejects after timeoutMs. */
  expect(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  send(line: string): void;
  exited: Promise<number | null>;
  kubeconfig: string;
  statusUrl: string;
  kubernetesUrl: string;
}

export async function startDemoProcess(args: string[]): Promise<DemoProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'demo', '--free-ports', ...args], { cwd: ROOT, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const expect = async (pattern: RegExp, timeoutMs = 15_000, from = 0) => {
    const match = await waitFor(() => stdout.slice(from).match(pattern), timeoutMs, 50);
    if (!match) throw new Error(`no ${pattern} in the demo's output within ${timeoutMs}ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    return match;
  };
  try {
    const [, statusUrl] = await expect(/status page:\s+(\S+)/);
    const [, kubeconfig] = await expect(/kubeconfig:\s+(\S+)/);
    const [, kubernetesUrl] = await expect(/kubernetes:\s+(https:\S+)/);
    return { child, output: () => stdout, expect, send: (line) => child.stdin.write(`${line}\n`), exited, kubeconfig, statusUrl, kubernetesUrl };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** The demo's exit code, or 'timeout' (the timer is cleared, so it never holds the test process). */
export async function exitCode(demo: DemoProcess, timeoutMs: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  try {
    return await Promise.race([demo.exited, expired]);
  } finally {
    clearTimeout(timer);
  }
}

export async function status(statusUrl: string): Promise<StatusSnapshot> {
  const response = await fetch(new URL('api/status', statusUrl));
  assert.equal(response.status, 200);
  return (await response.json()) as StatusSnapshot;
}
