// Parses a spec on a worker thread, so that a large or hostile file can never stall the thread that
// carries connections and answers signals; a parse that overruns its deadline is abandoned.
import { isMainThread, parentPort, Worker, workerData, type ResourceLimits } from 'node:worker_threads';
import { parseSpec, type LoadResult } from './load.js';

const ROLE = 'cluster-endpoint-spec-parser';

/** Long enough for a spec at the size limit on a slow host (about 3 s here), short enough to notice. */
export const PARSE_DEADLINE_MS = 10_000;

/**
 * The parser's memory: a valid spec at the size limit (15,000 nodes) needs about 120 MiB of heap; a document
 * built to cost more (half a million values in 1 MiB) ends the worker instead of growing the balancer.
 */
export const PARSER_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 } as const;

/** A worker idle this long is ended, and its memory returned: reloads are rare, a burst of them reuses it. */
export const PARSER_IDLE_MS = 5000;

/**
 * A worker thread that parses specs, kept for a burst of reloads (starting one and loading the parser costs
 * more than most parses) and ended when idle, so that what a large spec cost is given back. A parse that
 * overruns its deadline or its memory ends the worker; the next parse starts a new one. The worker never
 * keeps the process alive.
 */
export class SpecParser {
  #worker: Worker | undefined;
  #next = 0;
  readonly #pending = new Map<number, (result: LoadResult) => void>();
  #idle: NodeJS.Timeout | undefined;
  readonly #limits: ResourceLimits;
  readonly #idleMs: number;

  /** Tests pass smaller limits; serve uses PARSER_LIMITS and PARSER_IDLE_MS. */
  constructor(options: { limits?: ResourceLimits; idleMs?: number } = {}) {
    this.#limits = options.limits ?? PARSER_LIMITS;
    this.#idleMs = options.idleMs ?? PARSER_IDLE_MS;
  }

  /** Whether a worker thread exists now (it is ended when idle). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  parse(text: string, source: string, deadlineMs = PARSE_DEADLINE_MS): Promise<LoadResult> {
    return new Promise((resolve) => {
      let worker: Worker;
      try {
        worker = this.#worker ?? this.#start();
      } catch (error) {
        resolve(failed(`no worker thread to parse it on: ${(error as Error).message}`));
        return;
      }
      const id = this.#next++;
      clearTimeout(this.#idle);
      const timer = setTimeout(() => this.#abandon(worker, `parsing took longer than ${deadlineMs / 1000}s`), deadlineMs);
      this.#pending.set(id, (result) => {
        clearTimeout(timer);
        if (this.#pending.size === 0 && this.#worker === worker) {
          this.#idle = setTimeout(() => { if (this.#pending.size === 0) this.#abandon(worker, 'idle'); }, this.#idleMs).unref();
        }
        resolve(result);
      });
      worker.postMessage({ id, text, source });
    });
  }

  close(): void {
    clearTimeout(this.#idle);
    if (this.#worker) this.#abandon(this.#worker, 'the parser was closed');
  }

  #start(): Worker {
    const worker = startWorker({ role: ROLE }, this.#limits);
    worker.on('message', ({ id, result }: { id: number; result: LoadResult }) => {
      const settle = this.#pending.get(id);
      this.#pending.delete(id);
      settle?.(result);
    });
    worker.once('error', (error) => {
      const oom = (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.#abandon(worker, oom ? `it needs more than ${this.#limits.maxOldGenerationSizeMb} MiB of memory to parse` : `the parser failed: ${error.message}`);
    });
    worker.once('exit', (code) => this.#abandon(worker, `the parser exited (code ${code})`));
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  /** Ends the worker and answers every parse still waiting on it. */
  #abandon(worker: Worker, why: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    clearTimeout(this.#idle);
    void worker.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const settle of pending) settle(failed(why));
  }
}

/**
 * This same module is the worker's entry. Run from TypeScript sources (tests, development under tsx),
 * a worker does not inherit tsx's loader on Node 20, so it registers it first.
 */
function startWorker(data: Record<string, string>, resourceLimits: ResourceLimits): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(self, { workerData: data, resourceLimits });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}

function failed(why: string): LoadResult {
  return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', message: `the spec was not read: ${why}`, hint: 'check the file (at most 1 MiB, 64 levels deep, 100 YAML alias expansions); the running config stays in place' }] };
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  parentPort!.on('message', ({ id, text, source }: { id: number; text: string; source: string }) => {
    parentPort!.postMessage({ id, result: parseSpec(text, source) });
  });
}
