// The spec file as the running balancer sees it: read with a size bound, parsed off the event loop, and
// watched so that a change is applied once, after the file has stopped changing.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { SPEC_LIMITS, type LoadResult } from '../spec/load.js';
import { SpecParser } from '../spec/worker.js';

/** One read of the spec file. */
export interface SpecText {
  text: string;
  /** sha256 of the text: a change is a different digest, whatever the file's timestamps say. */
  digest: string;
}

/**
 * A file is taken as written when it has been quiet this long and its size and mtime did not move
 * over one more such interval: editors and config managers write in several steps, and a prefix of a
 * spec can be valid YAML that lists fewer nodes.
 */
export const SETTLE_MS = 500;

export class SpecSource {
  readonly path: string;
  readonly #logger: Logger;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sample: string | undefined;
  readonly #parser = new SpecParser();

  constructor(path: string, logger: Logger) {
    this.path = path;
    this.#logger = logger;
  }

  /** Reads the file; a missing file or one over the size bound is a UserError. */
  async read(): Promise<SpecText> {
    let text: string;
    try {
      const handle = await open(this.path, 'r');
      try {
        // Read one byte past the bound: enough to tell that the file is too large, never the whole of it.
        const buffer = Buffer.alloc(SPEC_LIMITS.bytes + 1);
        let length = 0;
        for (;;) {
          const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
          if (bytesRead === 0 || (length += bytesRead) === buffer.length) break;
        }
        if (length > SPEC_LIMITS.bytes) {
          throw new UserError('SPEC_LIMIT', `${this.path} is larger than ${SPEC_LIMITS.bytes / 1024 / 1024} MiB; it was not read`, { hint: 'check that the file is the endpoint spec', exitCode: 2 });
        }
        text = buffer.subarray(0, length).toString('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof UserError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError('SPEC_FILE', `cannot read ${this.path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { hint: 'pass the spec with -c FILE (see examples/endpoint.yaml)', exitCode: 2 });
    }
    return { text, digest: createHash('sha256').update(text).digest('hex') };
  }

  /** Parses on a worker thread with a deadline: the caller's event loop keeps carrying connections. */
  parse(text: string): Promise<LoadResult> {
    return this.#parser.parse(text, this.path);
  }

  /** Calls onSettled after the file changed and then stopped changing (see SETTLE_MS). */
  watch(onSettled: () => void): void {
    // Watch the directory: editors and config managers replace the file rather than write it in place.
    try {
      this.#watcher = watch(dirname(this.path), (_event, filename) => {
        if (filename !== null && filename !== basename(this.path)) return;
        this.#sample = undefined;
        this.#schedule(onSettled);
      });
      this.#watcher.on('error', (error) => this.#logger.warn({ event: 'watch-error', error: error.message }, `watching ${this.path} stopped: ${error.message}; reload with SIGHUP`));
    } catch (error) {
      this.#logger.warn({ event: 'watch-error', error: (error as Error).message }, `cannot watch ${this.path}: ${(error as Error).message}; reload with SIGHUP`);
    }
  }

  close(): void {
    this.#parser.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #schedule(onSettled: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(onSettled), SETTLE_MS);
  }

  /** Quiet for SETTLE_MS: settled when size and mtime match the previous sample, else sample again. */
  async #check(onSettled: () => void): Promise<void> {
    this.#timer = undefined;
    let sample: string;
    try {
      const info = await stat(this.path);
      sample = `${info.size}:${info.mtimeMs}:${info.ino}`;
    } catch {
      sample = 'missing'; // mid-replace; the next event brings the new file
    }
    if (this.#watcher === undefined) return;
    if (sample !== this.#sample || sample === 'missing') {
      this.#sample = sample;
      if (sample !== 'missing') this.#schedule(onSettled);
      return;
    }
    onSettled();
  }
}
