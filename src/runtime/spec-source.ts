// The spec file as the running balancer sees it: read with bounds (src/read-file.ts), parsed off the event
// loop, and watched so that a change is applied once, after the file has stopped changing.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { readTextFile, statWithin } from '../read-file.js';
import { SPEC_LIMITS, type LoadResult } from '../spec/load.js';
import { SpecParser } from '../spec/worker.js';

/** One read of the spec file. */
export interface SpecText {
  text: string;
  /** sha256 of the text: a change is a different digest, whatever the file's timestamps say. */
  digest: string;
}

/**
 * A file is taken as written when it has been quiet this long and its size, mtime and inode did not move
 * over one more such interval: editors and config managers write in several steps, and a prefix of a spec
 * can be valid YAML that lists fewer nodes.
 */
export const SETTLE_MS = 500;

/** A directory entry the spec path goes through: the file itself, or a symbolic link on the way to it. */
export interface PathEntry { dir: string; name: string }

export class SpecSource {
  readonly path: string;
  readonly #logger: Logger;
  /** One watcher per directory that holds an entry of the path (the file, or a link on the way to it). */
  readonly #watchers = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  #watching = false;
  #onSettled: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sample: string | undefined;
  readonly #parser = new SpecParser();

  constructor(path: string, logger: Logger) {
    this.path = path;
    this.#logger = logger;
  }

  /**
   * Reads the file: only a regular file, at most SPEC_LIMITS.bytes, and within a deadline (a FIFO, a device or a
   * hung mount at the path is an error, never a wait). Throws a UserError; its `cause` is the errno error when
   * there was one (ENOENT: the file is missing, e.g. mid-replace).
   */
  async read(): Promise<SpecText> {
    const text = await readTextFile(this.path, {
      maxBytes: SPEC_LIMITS.bytes,
      codes: { file: 'SPEC_FILE', limit: 'SPEC_LIMIT' },
      hint: 'pass the spec with -c FILE (see examples/endpoint.yaml)',
      exitCode: 2,
    });
    return { text, digest: createHash('sha256').update(text).digest('hex') };
  }

  /** Parses on a worker thread with a deadline: the caller's event loop keeps carrying connections. */
  parse(text: string): Promise<LoadResult> {
    return this.#parser.parse(text, this.path);
  }

  /**
   * Calls onSettled after the file changed and then stopped changing (see SETTLE_MS). The directories of the
   * file and of every symbolic link on the way to it are watched: editors and config managers replace the file
   * rather than write it in place, and a Kubernetes ConfigMap or Secret volume changes no file at all — kubelet
   * writes a new directory and renames a `..data` link onto it.
   */
  watch(onSettled: () => void): void {
    this.#onSettled = onSettled;
    this.#watching = true;
    void this.#follow();
  }

  /** Runs the settle check again in `ms` (the daemon waits for a change to stay the same; see daemon.ts). */
  recheckIn(ms: number): void {
    if (!this.#watching) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#onSettled?.(); }, ms);
  }

  close(): void {
    this.#parser.close();
    this.#watching = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const { watcher } of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** Watches the directories of the path's entries now; called again after every change (links may point elsewhere). */
  async #follow(): Promise<void> {
    let entries: PathEntry[];
    try {
      entries = await pathEntries(this.path);
    } catch {
      entries = [{ dir: dirname(resolve(this.path)), name: resolve(this.path).slice(dirname(resolve(this.path)).length + 1) }];
    }
    if (!this.#watching) return;
    const wanted = new Map<string, Set<string>>();
    for (const { dir, name } of entries) wanted.set(dir, (wanted.get(dir) ?? new Set()).add(name));
    for (const [dir, entry] of this.#watchers) {
      if (wanted.has(dir)) continue;
      entry.watcher.close();
      this.#watchers.delete(dir);
    }
    const first = this.#watchers.size === 0;
    for (const [dir, names] of wanted) {
      const current = this.#watchers.get(dir);
      if (current) { current.names = names; continue; }
      try {
        const watcher = watch(dir, (_event, filename) => {
          const entry = this.#watchers.get(dir);
          if (filename !== null && entry && !entry.names.has(filename)) return;
          this.#changed(filename === null ? dir : join(dir, filename));
        });
        watcher.on('error', (error) => this.#lost(dir, error));
        this.#watchers.set(dir, { watcher, names });
      } catch (error) {
        if (dir === wanted.keys().next().value) {
          this.#logger.warn({ event: 'watch-error', error: (error as Error).message }, `cannot watch ${this.path}: ${(error as Error).message}; reload with SIGHUP`);
        }
      }
    }
    if (first) {
      const links = entries.slice(0, -1).map((e) => join(e.dir, e.name));
      this.#logger.debug({ event: 'watch', path: this.path, links }, `watching ${this.path}${links.length ? ` (through ${links.join(', ')})` : ''}`);
    }
  }

  #changed(what: string): void {
    this.#logger.debug({ event: 'watch', path: this.path, changed: what }, `${what} changed`);
    this.#sample = undefined;
    this.#schedule();
  }

  /** A watched directory went away (an old ConfigMap version) or its watch failed: follow the path again. */
  #lost(dir: string, error: Error): void {
    this.#watchers.get(dir)?.watcher.close();
    this.#watchers.delete(dir);
    if (!this.#watching) return;
    if (this.#watchers.size === 0) this.#logger.warn({ event: 'watch-error', error: error.message }, `watching ${this.path} stopped: ${error.message}; following it again (SIGHUP reloads meanwhile)`);
    this.#changed(dir);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), SETTLE_MS);
  }

  /** Quiet for SETTLE_MS: settled when size, mtime and inode match the previous sample, else sample again. */
  async #check(): Promise<void> {
    this.#timer = undefined;
    let sample: string;
    try {
      const info = await statWithin(this.path);
      sample = info ? `${info.size}:${info.mtimeMs}:${info.ino}` : 'missing';
    } catch {
      sample = 'unreadable'; // a hung file system: the reload says so
    }
    if (!this.#watching) return;
    // Links may point elsewhere now (never while the file system hangs: each look would hold a thread).
    if (sample !== 'unreadable') void this.#follow();
    if (sample === 'missing') {
      this.#sample = sample; // mid-replace; the next event brings the new file
      return;
    }
    if (sample !== this.#sample && sample !== 'unreadable') {
      this.#sample = sample;
      this.#schedule();
      return;
    }
    this.#onSettled?.();
  }
}

/**
 * The directory entries `path` goes through, resolved as the kernel does: every symbolic link met on the way
 * (in any component), then the file itself. For a ConfigMap volume mounted at /etc/ce:
 * [/etc/ce endpoint.yaml (→ ..data/endpoint.yaml), /etc/ce ..data (→ ..2026_…), /etc/ce/..2026_… endpoint.yaml].
 */
export async function pathEntries(path: string): Promise<PathEntry[]> {
  const entries: PathEntry[] = [];
  let pending = resolve(path).split('/').filter(Boolean);
  let current = '/';
  for (let links = 0; pending.length > 0;) {
    const [name, ...rest] = pending;
    pending = rest;
    if (name === '.') continue;
    if (name === '..') { current = dirname(current); continue; }
    const full = join(current, name);
    let target: string | undefined;
    try {
      target = await readlink(full);
    } catch {
      target = undefined; // not a link (EINVAL), or missing
    }
    if (target === undefined) {
      if (pending.length === 0) entries.push({ dir: current, name });
      current = full;
      continue;
    }
    entries.push({ dir: current, name });
    if (++links > 40) break; // ELOOP, as the kernel would say
    pending = [...target.split('/').filter(Boolean), ...pending];
    if (isAbsolute(target)) current = '/';
  }
  return entries;
}
