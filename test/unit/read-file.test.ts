// Files a user names are read with bounds (issue 24, items 3 and 8): only a regular file, never past a limit,
// never by waiting on open(). Real FIFOs, devices, directories and a real file lease (perl's fcntl, which
// Debian always has), never a stub.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { loadKubeconfig, loadTalosconfig } from '../../src/probe/credentials.js';
import { blockedReads, readTextFile } from '../../src/read-file.js';
import { requireOrSkip, runCli } from '../helpers/cli.js';

const LIMIT = { maxBytes: 1024 * 1024 };

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ce-read-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function mkfifo(path: string): void {
  const result = spawnSync('mkfifo', [path]);
  if (result.status !== 0) throw new Error(`mkfifo failed: ${result.stderr}`);
}

/** Rejects within ms with a UserError whose message matches. */
async function refusedWithin(promise: Promise<unknown>, ms: number, message: RegExp): Promise<void> {
  const started = performance.now();
  await assert.rejects(promise, (error: unknown) => error instanceof UserError && message.test(error.message) && !/\n\s+at /.test(error.message));
  assert.ok(performance.now() - started < ms, `took ${(performance.now() - started).toFixed(0)} ms`);
}

test('a FIFO nobody writes is refused at once, not waited on', async (t) => {
  const fifo = join(await tempDir(t), 'endpoint.yaml');
  mkfifo(fifo);
  await refusedWithin(readTextFile(fifo, LIMIT), 1000, /is a FIFO \(named pipe\), not a regular file/);
  assert.equal(blockedReads(), 0, 'no thread is left waiting');
});

test('devices and directories are refused; /dev/zero is never read', async (t) => {
  await refusedWithin(readTextFile('/dev/zero', LIMIT), 1000, /\/dev\/zero is a character device, not a regular file/);
  await refusedWithin(readTextFile('/dev/null', LIMIT), 1000, /is a character device/);
  await refusedWithin(readTextFile(await tempDir(t), LIMIT), 1000, /is a directory, not a regular file/);
  await refusedWithin(readTextFile('/nonexistent/endpoint.yaml', LIMIT), 1000, /cannot read \/nonexistent\/endpoint\.yaml: no such file/);
});

test('a file larger than the limit is refused after reading one byte past it; a file that fits is read whole', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'big'), 'x'.repeat(2 * 1024 * 1024));
  await refusedWithin(readTextFile(join(dir, 'big'), LIMIT), 2000, /is larger than 1 MiB; it was not read/);
  await writeFile(join(dir, 'exact'), 'y'.repeat(LIMIT.maxBytes));
  assert.equal((await readTextFile(join(dir, 'exact'), LIMIT)).length, LIMIT.maxBytes);
  await writeFile(join(dir, 'small'), 'héllo');
  assert.equal(await readTextFile(join(dir, 'small'), LIMIT), 'héllo');
});

test('a file under a write lease (it is being written) is reported, not waited on for the lease-break time', async (t) => {
  const perl = spawnSync('perl', ['-e', '1']).status === 0;
  if (!requireOrSkip(t, perl, 'perl is not installed (Debian: perl-base)')) return;
  const file = join(await tempDir(t), 'endpoint.yaml');
  await writeFile(file, 'cluster: { name: x }\n');
  // F_SETLEASE (1024) with F_WRLCK (1); SIGIO ignored, so the kernel waits /proc/sys/fs/lease-break-time (45 s) before breaking it.
  const holder = spawn('perl', ['-e', `$SIG{IO}='IGNORE'; open(my $fh, '+<', $ARGV[0]) or die; fcntl($fh, 1024, 1) or die "lease: $!"; print "held\\n"; $|=1; sleep 30;`, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`the lease holder exited (${code})`)));
  });
  await refusedWithin(readTextFile(file, LIMIT), 2000, /another process holds a lease on it/);
});

test('validate -c on a FIFO, a device and a directory: one line, exit 2, no stack trace (issue 24, item 8)', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'fifo.yaml');
  mkfifo(fifo);
  for (const [path, what] of [[fifo, /is a FIFO/], ['/dev/zero', /is a character device/], [dir, /is a directory/]] as const) {
    const result = await runCli(['validate', '-c', path], { timeoutMs: 20_000 });
    assert.equal(result.code, 2, `${path}: ${result.stderr}`);
    assert.match(result.stderr, what);
    assert.doesNotMatch(result.stderr, /\n\s+at |EISDIR|illegal operation/);
  }
});

test('probe\'s --kubeconfig and --talosconfig on a FIFO or a device: a usage error naming the flag, at once', async (t) => {
  const fifo = join(await tempDir(t), 'kubeconfig');
  mkfifo(fifo);
  await refusedWithin(loadKubeconfig(fifo), 1000, /^--kubeconfig .*kubeconfig is a FIFO \(named pipe\), not a regular file/);
  await refusedWithin(loadTalosconfig('/dev/zero'), 1000, /^--talosconfig \/dev\/zero is a character device/);
  await refusedWithin(loadKubeconfig('/nonexistent/kubeconfig'), 1000, /^cannot read --kubeconfig \/nonexistent\/kubeconfig: no such file/);
});
