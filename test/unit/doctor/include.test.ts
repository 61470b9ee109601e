// keepalived `include` (issue 22): an included file is resolved relative to the file that includes it and is
// checked with it — never alone, out of its context — and findings point into the included file.
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { runProgram } from '../../../src/cli/program.js';
import { DISK, expandBraces, expandIncludes, type IncludeReader } from '../../../src/doctor/keepalived-include.js';
import { ROOT } from '../../helpers/cli.js';

const FIXTURES = join(ROOT, 'test/fixtures/doctor/include');

async function doctorJson(args: string[], cwd?: string): Promise<{ findings: Array<{ rule: string; file: string; line: number; severity: string }> }> {
  let out = '';
  const sink = new Writable({ write(chunk, _e, cb) { out += String(chunk); cb(); } });
  const before = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    await runProgram(['doctor', ...args, '--json', '--no-engines'], { stdout: sink, stderr: sink });
  } finally {
    process.chdir(before);
  }
  return JSON.parse(out) as { findings: Array<{ rule: string; file: string; line: number; severity: string }> };
}

test('a directory whose keepalived.conf includes conf.d/*.conf: the instance is checked with the script it tracks', async () => {
  const report = await doctorJson([join(FIXTURES, 'good')]);
  // Checked alone, conf.d/vip.conf tracks a script it does not define (keepalived/unknown-track-script) — a false error.
  assert.deepEqual(report.findings.filter((f) => f.severity !== 'info'), []);
});

test('findings inside included files point at the included file and its line, also two levels down', async () => {
  const report = await doctorJson([join(FIXTURES, 'bad')]);
  const at = report.findings.filter((f) => f.severity !== 'info').map((f) => `${relative(FIXTURES, f.file)}:${f.line} ${f.rule}`).sort();
  assert.deepEqual(at, ['bad/conf.d/vip.conf:6 keepalived/unknown-keyword', 'bad/vip-extra/garp.conf:2 keepalived/unknown-keyword']);
});

test('relative includes resolve against the including file, not the working directory', async () => {
  const elsewhere = await mkdtemp(join(tmpdir(), 'ce-include-'));
  try {
    // From another directory, with the main file given by a relative path through a link.
    await symlink(join(FIXTURES, 'bad'), join(elsewhere, 'lb'));
    const report = await doctorJson(['lb/keepalived.conf'], elsewhere);
    const at = report.findings.filter((f) => f.severity !== 'info').map((f) => `${f.file}:${f.line}`).sort();
    assert.deepEqual(at, ['lb/conf.d/vip.conf:6', 'lb/vip-extra/garp.conf:2']);
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test('expansion: braces, sorted matches, an include loop read once, nothing to expand without include', async () => {
  assert.deepEqual(expandBraces('a{b,c{d,e}}f'), ['abf', 'acdf', 'acef']);
  const files: Record<string, string> = {
    '/etc/keepalived/keepalived.conf': 'global_defs {\n}\ninclude conf.d/*.conf # both\n',
    '/etc/keepalived/conf.d/b.conf': 'vrrp_script b {\n}\n',
    '/etc/keepalived/conf.d/a.conf': 'vrrp_script a {\n}\ninclude ../keepalived.conf\n',
  };
  const reader: IncludeReader = {
    read: async (path) => files[path],
    list: async (dir) => Object.keys(files).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1)).filter((p) => !p.includes('/')),
  };
  const expanded = await expandIncludes('/etc/keepalived/keepalived.conf', files['/etc/keepalived/keepalived.conf'], reader);
  assert.ok(expanded);
  assert.deepEqual(expanded.included, ['/etc/keepalived/conf.d/a.conf', '/etc/keepalived/conf.d/b.conf']);
  assert.match(expanded.text, /vrrp_script a[\s\S]*vrrp_script b/);
  assert.deepEqual(expanded.origins[expanded.text.split('\n').findIndex((l) => l.startsWith('vrrp_script b'))], { file: '/etc/keepalived/conf.d/b.conf', line: 1 });
  assert.equal(await expandIncludes('x.conf', 'vrrp_instance VI {\n}\n', reader), undefined);
});

test('doctor\'s bounds hold for included files: never a FIFO or a device, never more than it reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-include-bounds-'));
  try {
    const main = join(dir, 'keepalived.conf');
    await writeFile(main, 'include /dev/zero\ninclude big.conf\nvrrp_instance VI {\n  priority 100\n}\n');
    await writeFile(join(dir, 'big.conf'), `# ${'x'.repeat(9 * 1024 * 1024)}\n`);
    const expanded = await expandIncludes(main, '', DISK);
    assert.equal(expanded, undefined, 'no include statement in an empty text');
    const read = await expandIncludes(main, 'include /dev/zero\ninclude big.conf\nvrrp_instance VI {\n}\n');
    assert.deepEqual(read?.included, []);
    assert.equal(read?.text.split('\n').length, 5, 'the two statements stay, as comments; nothing was read');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
