// Parses a spec on a worker thread, so that a large or hostile file can never stall the thread that
// carries connections and answers signals; a parse that overruns its deadline is abandoned.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseSpec, type LoadResult } from './load.js';

const ROLE = 'cluster-endpoint-spec-parser';

/** Long enough for a spec at the size limit on a slow host (about 3 s here), short enough to notice. */
export const PARSE_DEADLINE_MS = 10_000;

/** parseSpec on a fresh worker thread, resolved with its result or a SPEC_LIMIT problem at the deadline. */
export function parseSpecOffThread(text: string, source: string, deadlineMs = PARSE_DEADLINE_MS): Promise<LoadResult> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = startWorker({ role: ROLE, text, source });
    } catch (error) {
      resolve(failed(`no worker thread to parse it on: ${(error as Error).message}`));
      return;
    }
    let settled = false;
    const settle = (result: LoadResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => settle(failed(`parsing took longer than ${deadlineMs / 1000}s`)), deadlineMs);
    worker.once('message', (result: LoadResult) => settle(result));
    worker.once('error', (error) => settle(failed(`the parser failed: ${error.message}`)));
    worker.once('exit', (code) => settle(failed(`the parser exited (code ${code})`)));
  });
}

/**
 * This same module is the worker's entry. Run from TypeScript sources (tests, development under tsx),
 * a worker does not inherit tsx's loader on Node 20, so it registers it first.
 */
function startWorker(data: Record<string, string>): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(self, { workerData: data });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

function failed(why: string): LoadResult {
  return { problems: [{ code: 'SPEC_LIMIT', severity: 'error', path: '', message: `the spec was not read: ${why}`, hint: 'check the file (at most 1 MiB, few YAML aliases); the running config stays in place' }] };
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const { text, source } = workerData as { text: string; source: string };
  parentPort!.postMessage(parseSpec(text, source));
}
