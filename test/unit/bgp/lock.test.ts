// The BGP run directory's owner (issue 19 item 7): one serve at a time, the refusal names the owner, the lock goes
// with its process; and the MD5 password file's rules.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockRunDirectory } from '../../../src/bgp/lock.js';
import { parsePassword, readPasswords } from '../../../src/bgp/passwords.js';
import { UserError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';

const onLinux = process.platform === 'linux';

test('the run directory lock: a second owner is refused with the first one\'s pid and spec; released, it can be taken again', { skip: !onLinux && 'abstract sockets are Linux only' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ce-lock-'));
  try {
    const first = await lockRunDirectory(dir, '/etc/cluster-endpoint/alpha.yaml');
    await assert.rejects(lockRunDirectory(`${dir}/./`, '/etc/cluster-endpoint/beta.yaml'), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, 'BGP');
      assert.equal(error.exitCode, 2);
      assert.equal(error.message, `bgp.runDirectory ${dir}/./ is in use by serve pid ${process.pid} (/etc/cluster-endpoint/alpha.yaml), which runs its own BGP speaker there`);
      assert.match(error.hint ?? '', /its own bgp\.runDirectory/);
      return true;
    });
    const other = await lockRunDirectory(join(dir, 'other'), '/b.yaml');
    await other.release();
    await first.release();
    await first.release();
    const again = await lockRunDirectory(dir, '/c.yaml');
    await again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lock goes with its process, even on SIGKILL (no stale lock)', { skip: !onLinux && 'abstract sockets are Linux only' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ce-lock-'));
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import('./src/bgp/lock.ts').then(async (m) => { const l = await m.lockRunDirectory(${JSON.stringify(dir)}, '/holder.yaml'); console.log('locked'); setInterval(() => {}, 1000); void l; });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => { if (String(d).includes('locked')) resolve(); });
      holder.once('exit', () => reject(new Error('the holder exited')));
    });
    await assert.rejects(lockRunDirectory(dir, '/me.yaml'), new RegExp(`in use by serve pid ${holder.pid} \\(/holder\\.yaml\\)`));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const mine = await lockRunDirectory(dir, '/me.yaml');
    await mine.release();
  } finally {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an MD5 password file: one line, the final newline dropped; empty, several lines, quotes and over 80 bytes are refused', () => {
  assert.deepEqual(parsePassword('s3cret!\n'), { password: 's3cret!' });
  assert.deepEqual(parsePassword('x'.repeat(80)), { password: 'x'.repeat(80) });
  for (const [text, problem] of [['', /empty/], ['\n', /empty/], ['a\nb\n', /more than one line/], ['a"b', /quote/], ['a\\b', /backslash/], ['a\tb', /control character/], ['x'.repeat(81), /80 bytes/], ['é'.repeat(41), /80 bytes/]] as const) {
    const parsed = parsePassword(text);
    assert.ok('problem' in parsed, JSON.stringify(text));
    assert.match(parsed.problem, problem);
  }
});

test('readPasswords: a missing file names the peer and the path; a readable one is used, with a warning when others can read it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ce-md5-'));
  const logs: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => { logs.push(line); return true; } } as never });
  try {
    const base = { asn: 65000, port: 179, bfd: true, bfdIntervalMs: 100, bfdMultiplier: 3 };
    await assert.rejects(readPasswords([{ ...base, name: 'tor-1', address: '10.0.0.1', passwordFile: join(dir, 'missing') }], logger), (error: UserError) => error.message === `bgp: the passwordFile of peer tor-1 (${join(dir, 'missing')}) cannot be read: ENOENT` && error.exitCode === 2);
    writeFileSync(join(dir, 'open'), 'open-secret\n');
    chmodSync(join(dir, 'open'), 0o644);
    writeFileSync(join(dir, 'closed'), 'closed-secret\n');
    chmodSync(join(dir, 'closed'), 0o600);
    const passwords = await readPasswords([{ ...base, name: 'a', address: '10.0.0.1', passwordFile: join(dir, 'open') }, { ...base, name: 'b', address: '10.0.0.2', passwordFile: join(dir, 'closed') }, { ...base, name: 'c', address: '10.0.0.3' }], logger);
    assert.deepEqual([...passwords], [['a', 'open-secret'], ['b', 'closed-secret']]);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /passwordFile of peer a .* can be read by other users \(mode 644\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
