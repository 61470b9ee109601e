// Reading a file a user named (a spec, a config for doctor, a kubeconfig) with bounds: only a regular file is
// read, never more than a limit, and never by waiting on open() forever. A FIFO or a device at that path
// (`-c /dev/zero`, a named pipe nobody writes) is refused at once; a path whose open() or read() blocks (a
// hung NFS or FUSE mount, a file lease) is given up after a deadline. An operation that was given up still
// holds one of libuv's threads until the kernel answers, so at most one such operation runs per path, and
// `blockedReads()` tells a process that wants to exit that it cannot do so normally (see `dieBySignal`).
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { UserError, type ErrorCode } from './errors.js';

export interface ReadOptions {
  /** More bytes than this is an error (`codes.limit`); the file is never read past limit + 1 bytes. */
  maxBytes: number;
  /** open() and read() together; past it the read is given up. Default READ_DEADLINE_MS. */
  deadlineMs?: number;
  /** Error codes: `file` for anything that stops the read, `limit` for a file over maxBytes. */
  codes?: { file: ErrorCode; limit: ErrorCode };
  /** The fix line of a "cannot read" error. */
  hint?: string;
  /** The exit code of the errors (commands: 2, invalid input). */
  exitCode?: number;
}

/** Long enough for a slow disk, short enough that a reload or a command says something. */
export const READ_DEADLINE_MS = 5000;

/** Paths with an operation still waiting in the kernel after its deadline (path → since when). */
const blocked = new Map<string, number>();

/** How many file operations this process gave up on and that have not returned yet. */
export function blockedReads(): number {
  return blocked.size;
}

/**
 * Ends this process by `signal` with its default action. A normal exit cannot end a process that has a
 * blocked file operation: libuv's cleanup at exit joins every thread of its pool, and one is still in the
 * kernel. Death by SIGTERM is a clean stop to systemd; call this only when blockedReads() > 0.
 */
export function dieBySignal(signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

/** Reads a regular file as UTF-8 text within the bounds above; every failure is a UserError naming the path. */
export async function readTextFile(path: string, options: ReadOptions): Promise<string> {
  const codes = options.codes ?? { file: 'SPEC_FILE', limit: 'SPEC_LIMIT' };
  const fail = (message: string, code = codes.file, hint = options.hint, cause?: unknown) => new UserError(code, message, { hint, exitCode: options.exitCode, cause });
  const buffer = await bounded(path, options.deadlineMs ?? READ_DEADLINE_MS, fail, () => readRegular(path, options.maxBytes, fail));
  if (buffer.length > options.maxBytes) {
    throw fail(`${path} is larger than ${formatBytes(options.maxBytes)}; it was not read`, codes.limit, 'check that the file is the one meant (not generated output or a log)');
  }
  return buffer.toString('utf8');
}

/** stat() with the same deadline and the same one-at-a-time rule as a read; undefined when the path does not exist. */
export async function statWithin(path: string, deadlineMs = READ_DEADLINE_MS): Promise<{ size: number; mtimeMs: number; ino: number } | undefined> {
  const fail = (message: string) => new UserError('SPEC_FILE', message);
  return bounded(path, deadlineMs, fail, async () => {
    try {
      const info = await stat(path);
      return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fail(`cannot read ${path}: ${describeErrno(error)}`);
    }
  });
}

/** Runs `operation` unless one on this path is still stuck; gives it up after deadlineMs. */
async function bounded<T>(path: string, deadlineMs: number, fail: (message: string) => UserError, operation: () => Promise<T>): Promise<T> {
  const since = blocked.get(path);
  if (since !== undefined) {
    throw fail(`${path}: an earlier read has not returned for ${Math.round((Date.now() - since) / 1000)}s; the file system is not answering (a hung NFS or FUSE mount?)`);
  }
  const running = operation();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      blocked.set(path, Date.now());
      // When the kernel answers at last, the thread is free again: forget the path (a handle was closed by readRegular).
      running.then(() => blocked.delete(path), () => blocked.delete(path));
      reject(fail(`${path} could not be read within ${deadlineMs / 1000}s: the file system is not answering (a hung NFS or FUSE mount?)`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * O_NONBLOCK: open() of a FIFO returns at once instead of waiting for a writer, and a file under a lease
 * answers EWOULDBLOCK instead of waiting for the lease holder; it changes nothing for reading a regular file.
 * The type is checked on the open descriptor, so a path swapped for a FIFO after a stat() cannot slip through.
 */
async function readRegular(path: string, maxBytes: number, fail: (message: string, code?: ErrorCode, hint?: string, cause?: unknown) => UserError): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    // The errno stays as the cause: a watcher tells a file that is missing for a moment (mid-replace) from one it cannot read.
    throw fail(`cannot read ${path}: ${describeErrno(error)}`, undefined, undefined, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw fail(`${path} is ${kindOf(info)}, not a regular file; it was not read`);
    // One byte past the bound tells that the file is too large without reading the whole of it.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(info.size + 1, 64 * 1024)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length === buffer.length && length <= maxBytes) {
      // The file grew while it was read (its size said less): read on up to the bound.
      const rest = Buffer.alloc(maxBytes + 1 - length);
      let more = 0;
      for (;;) {
        const { bytesRead } = await handle.read(rest, more, rest.length - more, null);
        if (bytesRead === 0 || (more += bytesRead) === rest.length) break;
      }
      return Buffer.concat([buffer, rest.subarray(0, more)]);
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw fail(`cannot read ${path}: ${describeErrno(error)}`, undefined, undefined, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function kindOf(info: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a file';
}

/** An errno in words a user can act on, instead of Node's "EACCES: permission denied, open '…'". */
export function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'permission denied (check the file\'s owner and mode, and the user this runs as)';
    case 'EISDIR': return 'it is a directory';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    case 'ELOOP': return 'too many symbolic links (a loop?)';
    case 'ENAMETOOLONG': return 'the path is too long';
    case 'EAGAIN':
    case 'EWOULDBLOCK': return 'another process holds a lease on it (it is being written); try again';
    case 'ENOTCONN': return 'its file system is disconnected (a FUSE mount whose process ended?)';
    case 'ESTALE': return 'a stale NFS file handle';
    case 'EIO': return 'an I/O error from the disk or the file system';
    case 'EMFILE':
    case 'ENFILE': return 'too many open files in this process or system';
    default: return code ?? (error instanceof Error ? error.message : String(error));
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
