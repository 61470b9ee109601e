// A FUSE mount whose server never answers: every stat() or open() under it blocks in the kernel, as on a hung
// NFS or FUSE mount. No FUSE library: /dev/fuse is opened, mount(8) is given that descriptor (fd=3), and
// nothing ever reads it, so the kernel waits for an INIT answer forever. Closing the descriptor aborts the
// connection (blocked calls fail with ENOTCONN); the mount is then detached. Needs root and /dev/fuse.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';

export interface HungMount {
  /** The directory the mount covers. */
  readonly dir: string;
  /** Unblocks every call waiting on the mount and removes it (idempotent). */
  release(): void;
}

/** Why a hung mount cannot be made here, or undefined when it can. */
export function hungMountUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'a FUSE mount needs root';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing (the fuse kernel module)';
  if (spawnSync('mount', ['--version']).status !== 0) return 'mount (util-linux) is not installed';
  return undefined;
}

/** Mounts a hung FUSE file system over `dir` (which must exist). */
export function mountHung(dir: string): HungMount {
  const fd = openSync('/dev/fuse', 'r+');
  const mounted = spawnSync('mount', ['-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0,nodev,nosuid', 'ce-hung', dir], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (mounted.status !== 0) {
    closeSync(fd);
    throw new Error(`mount -t fuse failed: ${String(mounted.stderr)}`);
  }
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
      spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
    },
  };
}
