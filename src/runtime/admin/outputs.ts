// What the admin surface answers with, made at most once per OUTPUT_TTL_MS and shared: every client that asks for
// /metrics (or /api/status, or the page) within that time gets the same bytes, and a request that arrives while
// they are being made waits for them instead of making them again. They are made from one snapshot, in slices
// (slices.ts), so that any number of clients polling the admin surface costs the event loop about one
// formatting per second, a few milliseconds at a time; gzip is done on libuv's thread pool, off the event loop.
import { gzip } from 'node:zlib';
import type { StatusSnapshot } from '../snapshot.js';
import type { AdminMetrics } from './metrics.js';
import { jsonPieces, renderInSlices } from './slices.js';
import { statusBodyPieces, statusPagePieces } from './status-page.js';

/** How old an answer may be. Prometheus scrapes every 15 s or more; a person does not see a second. */
export const OUTPUT_TTL_MS = 1000;

export type OutputKind = 'metrics' | 'status' | 'page' | 'fragment';

export interface Output {
  body: Buffer;
  /** The same body gzip-compressed, made on first request. */
  gzipped(): Promise<Buffer>;
}

export interface OutputSource {
  snapshot(): StatusSnapshot;
}

export class AdminOutputs {
  readonly #source: OutputSource;
  readonly #metrics: AdminMetrics;
  readonly #ttlMs: number;
  #snapshot: { at: number; value: StatusSnapshot } | undefined;
  readonly #made = new Map<OutputKind, { at: number; output: Promise<Output> }>();

  constructor(source: OutputSource, metrics: AdminMetrics, ttlMs = OUTPUT_TTL_MS) {
    this.#source = source;
    this.#metrics = metrics;
    this.#ttlMs = ttlMs;
  }

  /** The snapshot answers are made from (shared for the TTL, like the answers). */
  snapshot(): StatusSnapshot {
    const now = Date.now();
    if (!this.#snapshot || now - this.#snapshot.at >= this.#ttlMs) this.#snapshot = { at: now, value: this.#source.snapshot() };
    return this.#snapshot.value;
  }

  /** The answer of this kind: the shared one while it is fresh, else a new one (made once for everyone asking). */
  get(kind: OutputKind): Promise<Output> {
    const now = Date.now();
    const made = this.#made.get(kind);
    if (made && now - made.at < this.#ttlMs) return made.output;
    const output = this.#make(kind);
    this.#made.set(kind, { at: now, output });
    // A failure is not kept: the next request tries again.
    output.catch(() => { if (this.#made.get(kind)?.output === output) this.#made.delete(kind); });
    return output;
  }

  /** Something changed that a client must see at once (an admin state it just set, a reload). */
  invalidate(): void {
    this.#snapshot = undefined;
    this.#made.clear();
  }

  async #make(kind: OutputKind): Promise<Output> {
    const snapshot = this.snapshot();
    let body: Buffer;
    switch (kind) {
      case 'metrics': {
        const own = await renderInSlices(this.#metrics.pieces(snapshot));
        body = Buffer.concat([own, Buffer.from(await this.#metrics.process(), 'utf8')]);
        break;
      }
      case 'status':
        body = await renderInSlices(jsonLines(snapshot));
        break;
      case 'page':
        body = await renderInSlices(statusPagePieces(snapshot));
        break;
      case 'fragment':
        body = await renderInSlices(statusBodyPieces(snapshot));
        break;
    }
    let zipped: Promise<Buffer> | undefined;
    return { body, gzipped: () => (zipped ??= new Promise((resolve, reject) => gzip(body, (error, result) => (error ? reject(error) : resolve(result))))) };
  }
}

function* jsonLines(value: unknown): Generator<string> {
  yield* jsonPieces(value);
  yield '\n';
}
