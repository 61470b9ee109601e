// Where socket reads land. Without an `onread` buffer Node allocates a fresh 64 KiB buffer for every
// read; that allocation and its garbage collection were most of the proxy's per-byte CPU (BENCHMARKS.md).
//
// A socket reads into one shared scratch buffer while its reads are small; those bytes are copied out
// at once, so an idle connection owns no buffer at all. Once a socket moves bulk data it reads into a
// buffer of its own, reused for as long as nothing still references the last chunk read into it (a write
// the kernel did not take at once, or bytes kept for replay); otherwise the next read gets a fresh one.

const SIZE = 65_536;
/** Reads this large mean bulk transfer: worth a buffer of the socket's own. */
const BULK_READ = 16_384;
const SCRATCH = Buffer.allocUnsafe(SIZE);

/** Flags a chunk handler returns. */
export const READ_PAUSE = 1;
export const READ_RETAINED = 2;

/** Handles one chunk; returns READ_PAUSE to stop reading until resume(), READ_RETAINED if it kept a reference. */
export type ChunkHandler = (chunk: Buffer) => number;

export class ReadBuffer {
  #own: Buffer | undefined;
  #next: Buffer = SCRATCH;
  readonly #handle: ChunkHandler;

  constructor(handle: ChunkHandler) {
    this.#handle = handle;
  }

  /** The value for net.Socket's `onread` option. */
  get onread(): { buffer: () => Buffer; callback: (size: number, buffer: Uint8Array) => boolean } {
    return { buffer: () => this.#next, callback: (size, buffer) => this.#read(size, buffer as Buffer) };
  }

  #read(size: number, buffer: Buffer): boolean {
    const scratch = buffer === SCRATCH;
    const view = buffer.subarray(0, size);
    const flags = this.#handle(scratch ? Buffer.from(view) : view);
    if (!scratch && (flags & READ_RETAINED) !== 0) this.#own = undefined;
    this.#next = size >= BULK_READ ? (this.#own ??= Buffer.allocUnsafe(SIZE)) : SCRATCH;
    return (flags & READ_PAUSE) === 0;
  }
}
