// A process started inside a network namespace (`ip netns exec` execs it, so the PID is the process itself),
// with every output line kept (JSON-parsed when it is JSON, as pino logs and the rehearse agents' events are)
// and a wait for a line. Shared by rehearse's lab and the namespace tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Line { at: number; text: string; json?: Record<string, unknown> }

export interface NsProc {
  child: ChildProcess;
  lines: Line[];
  exited: Promise<number | null>;
  waitForLine(predicate: (line: Line) => boolean, timeoutMs?: number): Promise<Line>;
  /** Called for every line as it arrives (after it is kept). */
  onLine(listener: (line: Line) => void): void;
}

/** Lines kept per process: enough for a drill's engine logs, bounded so a chatty process cannot grow without end. */
const MAX_LINES = 20_000;

export function spawnInNamespace(ns: string, args: string[], label: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean } = {}): NsProc {
  return spawnLogged(['ip', 'netns', 'exec', ns, ...args], label, options);
}

/** The same for a process in this namespace (one that joins a namespace by itself, as `podman run --network ns:…`). */
export function spawnLogged(args: string[], label: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean } = {}): NsProc {
  const child = spawn(args[0], args.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env }, cwd: options.cwd, detached: options.detached ?? false });
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  const listeners: Array<(line: Line) => void> = [];
  const collect = (stream: NodeJS.ReadableStream) => createInterface({ input: stream }).on('line', (text) => {
    let json: Record<string, unknown> | undefined;
    if (text.startsWith('{')) { try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* plain line */ } }
    const line = { at: Date.now(), text, json };
    if (lines.length >= MAX_LINES) lines.splice(0, lines.length - MAX_LINES + 1);
    lines.push(line);
    for (const listener of listeners) listener(line);
    for (const wake of waiters) wake();
  });
  collect(child.stdout!);
  collect(child.stderr!);
  // A child that goes away first must not take us down with EPIPE on its stdin.
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return {
    child, lines, exited,
    onLine: (listener) => { listeners.push(listener); },
    waitForLine: (predicate, timeoutMs = 10_000) => new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          if (predicate(lines[seen])) { done(); resolve(lines[seen]); return; }
        }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`${label}: no matching line within ${timeoutMs} ms; last lines:\n${lines.slice(-15).map((l) => l.text).join('\n')}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
  };
}
