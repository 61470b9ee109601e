// Runs node-program.ts as a child process: a stand-in node that can be killed, stopped and frozen.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from './cli.js';

const PROGRAM = fileURLToPath(new URL('./node-program.ts', import.meta.url));

export interface NodeProcessOptions { name: string; host: string; port: number; tickMs?: number; greetMs?: number; https?: { port: number; certFile: string; keyFile: string } }

export interface NodeProcess {
  readonly options: NodeProcessOptions;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts (or starts again) on the same address and port; resolves once it listens. */
  start(): Promise<void>;
  /** SIGTERM: stops accepting, ends every connection, exits. */
  stop(): Promise<void>;
  /** SIGKILL: connections are reset by the kernel. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  freeze(): void;
  thaw(): void;
}

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const signal = (name: NodeJS.Signals) => { if (child?.exitCode === null && child.signalCode === null) child.kill(name); };
  const node: NodeProcess = {
    options,
    get pid() { return child?.pid; },
    get running() { return child !== undefined && child.exitCode === null && child.signalCode === null; },
    async start() {
      if (node.running) return;
      const started = spawn(process.execPath, ['--import', 'tsx', PROGRAM, JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      child = started;
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => { started.kill('SIGKILL'); reject(new Error(`${options.name} did not listen within 15 s`)); }, 15_000);
        started.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const match = /listening (\d+)/.exec(out);
          const https = /https (\d+)/.exec(out);
          if (https && options.https) options.https.port = Number(https[1]);
          if (match) { clearTimeout(timer); options.port = Number(match[1]); resolve(); }
        });
        started.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${options.name} exited at start (${code})`)); });
      });
      started.stdout!.resume();
    },
    async stop() { signal('SIGCONT'); signal('SIGTERM'); await exited; },
    async kill() { signal('SIGKILL'); await exited; },
    freeze() { signal('SIGSTOP'); },
    thaw() { signal('SIGCONT'); },
  };
  await node.start();
  return node;
}

let nextBlock = 1 + Math.floor(Math.random() * 200);

/**
 * Stand-in nodes as processes on distinct loopback addresses (127.9.<block>.1, .2, …) sharing one port,
 * like nodes sharing 6443. The first picks a free port; the others take the same one.
 */
export async function startNodeProcesses(names: string[], options: { tickMs?: number; greetMs?: number; tls?: { certFile: string; keyFile: string } } = {}): Promise<NodeProcess[]> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const block = nextBlock;
    nextBlock = nextBlock >= 250 ? 1 : nextBlock + 1;
    const started: NodeProcess[] = [];
    try {
      for (const [index, name] of names.entries()) {
        const { tls, ...rest } = options;
        const https = tls && { ...tls, port: started[0]?.options.https?.port ?? 0 };
        started.push(await startNodeProcess({ name, host: `127.9.${block}.${index + 1}`, port: started[0]?.options.port ?? 0, ...rest, ...(https ? { https } : {}) }));
      }
      return started;
    } catch {
      await Promise.all(started.map((n) => n.kill()));
    }
  }
  throw new Error('could not start the node processes');
}
