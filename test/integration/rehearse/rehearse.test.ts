// alone: counts what clients lose in a drill with timed steps: no other test shares the CPU (test/run.sh)
// `cluster-endpoint rehearse` end to end (issue 22), as root with network namespaces, the real haproxy and
// keepalived and the real CLI: the reference guide's files lose their failover and the report points at the
// keepalived lines; the files `render` writes and `serve` with the spec lose nothing in the whole drill; traps
// no doctor rule names are caught by the drill alone, each with its fixture and where users met it; and a
// rehearsal stopped with SIGINT leaves nothing behind.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runDoctor } from '../../../src/doctor/run.js';
import { haproxyRenderer } from '../../../src/render/haproxy/haproxy.js';
import { keepalivedRenderer } from '../../../src/render/keepalived/keepalived.js';
import { LAB_PREFIX, WORK_PREFIX } from '../../../src/rehearse/run.js';
import { parseSpec } from '../../../src/spec/load.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { guideFiles } from '../../helpers/guide.js';

const run = promisify(execFile);
const TRAPS = join(ROOT, 'test/fixtures/rehearse/traps');
const SPEC = join(ROOT, 'test/fixtures/rehearse/same-cluster.endpoint.yaml');

/** The CLI from dist/ when it is up to date (npm test builds it first: the agents start fast), else through tsx. */
function cliArgv(): string[] {
  const built = join(ROOT, 'dist/src/cli/main.js');
  const newest = (dir: string): number => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, 'src'))) return [built];
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

interface Report {
  lost: boolean;
  durationMs: number;
  lbHosts: Array<{ name: string }>;
  steps: Array<{ name: string; lost: boolean; losses: Array<{ what: string; text: string }>; vipHolders: string[][]; causes: Array<{ file: string | null; line: number | null; text: string; rule: string | null }> }>;
}

function rehearse(args: string[], timeoutMs = 240_000): Promise<{ code: number | null; report?: Report; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliArgv(), 'rehearse', ...args, '--json'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let report: Report | undefined;
      try { report = JSON.parse(stdout) as Report; } catch { /* the assertion below shows stderr */ }
      resolve({ code, ...(report ? { report } : {}), stdout, stderr });
    });
  });
}

async function prerequisites(t: { skip(message?: string): void }): Promise<boolean> {
  if (!requireOrSkip(t, process.getuid?.() === 0, 'rehearse needs root for network namespaces')) return false;
  for (const program of ['ip', 'unshare', 'haproxy', 'keepalived', 'curl']) {
    let found = true;
    try { await run('/bin/sh', ['-c', `command -v ${program}`]); } catch { found = false; }
    if (!requireOrSkip(t, found, `rehearse needs ${program} on the PATH`)) return false;
  }
  return true;
}

const describeStep = (r: Report | undefined, name: string) => r?.steps.find((s) => s.name === name);
const summary = (r: { report?: Report; stderr: string }) => (r.report ? r.report.steps.map((s) => `${s.name}: ${s.lost ? `LOST ${s.losses.map((l) => l.text).join('; ')}` : 'ok'}`).join('\n') : r.stderr);

/**
 * At most `n` at a time of what is given to it: the shorter rehearsals run beside the two whole drills three at a
 * time, so the CPU the drills' timed steps share stays bounded (a lab with its client running takes a third of a core).
 */
function pool(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const beside = pool(3);

// Every rehearsal runs side by side with the others: each has its own lab, and a drill mostly waits (its steps hold
// what the promises allow), so the file takes about the time of the longest drill. The guide's drill, the trap labs
// and the SIGINT run take turns, three at a time, beside the two whole drills.
/**
 * Traps no doctor rule names, each caught by the drill alone: the step that loses, and the line the drill points
 * at (with no doctor rule on that line). `source` is where users met the trap.
 */
const DRILL_TRAPS: Array<{ dir: string; kind: string; files: string[]; steps: string; step: string; cause: [file: string, line: number, text: RegExp]; source: string }> = [
  {
    dir: 'host-header', kind: 'the check\'s HTTP exchange: HTTP/1.1 without Host, which Go answers 400', files: ['haproxy.cfg'], steps: 'baseline', step: 'baseline',
    cause: ['haproxy.cfg', 19, /speaks HTTP\/1\.1 and sends no Host header/], source: 'https://github.com/lmenezes/cerebro/issues/494',
  },
  {
    dir: 'anonymous-check', kind: 'the check\'s HTTP/TLS exchange: no client certificate while Talos runs kube-apiserver with anonymous auth off (401)', files: ['haproxy.cfg'], steps: 'baseline', step: 'baseline',
    cause: ['haproxy.cfg', 21, /has no client certificate while kube-apiserver runs with anonymous auth off/], source: 'https://github.com/siderolabs/talos/issues/7528',
  },
  {
    dir: 'send-proxy', kind: 'bytes the API server does not speak: a PROXY protocol header before TLS', files: ['haproxy.cfg'], steps: 'baseline', step: 'baseline',
    cause: ['haproxy.cfg', 25, /send-proxy-v2 sends a PROXY protocol header/], source: 'https://github.com/kubernetes/kubernetes/issues/49682',
  },
  {
    dir: 'talos-http-check', kind: 'bytes the API server does not speak: an HTTP check on apid (gRPC, mutual TLS)', files: ['haproxy.cfg'], steps: 'baseline', step: 'baseline',
    cause: ['haproxy.cfg', 32, /the Talos API backend is checked with option httpchk/], source: 'https://github.com/siderolabs/talos/pull/7463',
  },
  {
    dir: 'tunnel-timeout', kind: 'a timeout shorter than a watch\'s idle time: timeout tunnel, with long client and server timeouts', files: ['haproxy.cfg'], steps: 'baseline,idle', step: 'idle',
    cause: ['haproxy.cfg', 11, /timeout tunnel 15s closes the API connections after 15s/], source: 'https://github.com/kubernetes/kubeadm/issues/2227',
  },
  {
    dir: 'check-fails-everywhere', kind: 'a keepalived script that keeps the VIP from moving: kubeadm\'s check_apiserver.sh fails on every LB host (401)', files: ['haproxy.cfg', 'lb-01/keepalived.conf', 'lb-02/keepalived.conf', 'check_apiserver.sh'], steps: 'baseline,lb-engine-crash', step: 'lb-engine-crash',
    cause: ['lb-01/keepalived.conf', 9, /fails on every LB host, also where the balancer serves/], source: 'https://github.com/umich-arc/keepalived/issues/4',
  },
  {
    dir: 'vrrp-strict', kind: 'a keepalived option that keeps the VIP from serving: vrrp_strict without accept', files: ['haproxy.cfg', 'lb-01/keepalived.conf', 'lb-02/keepalived.conf'], steps: 'baseline', step: 'baseline',
    cause: ['lb-01/keepalived.conf', 6, /vrrp_strict without accept/], source: 'https://github.com/acassen/keepalived/issues/2339',
  },
  {
    dir: 'livez-at-shutdown', kind: 'a check that passes while the API server is shutting down: /livez during the shutdown delay', files: ['haproxy.cfg', 'kubeadm.yaml'], steps: 'baseline,node-reboot', step: 'node-reboot',
    cause: ['haproxy.cfg', 20, /kept passing while kube-apiserver on cp-01 was shutting down/], source: 'https://github.com/openshift/installer/pull/1421',
  },
];

describe('rehearse (namespaces, haproxy, keepalived)', { concurrency: true }, () => {
  test('the reference guide\'s files: the failover that never happens, and the keepalived lines that cause it', { timeout: 300_000 }, (t) => beside(async () => {
    if (!(await prerequisites(t))) return;
    const guide = guideFiles();
    t.diagnostic(`the guide's files from ${guide.from}`);
    const dir = await mkdtemp(join(tmpdir(), 'ce-rehearse-guide-'));
    try {
      await writeFile(join(dir, 'haproxy.cfg'), guide.haproxy);
      await writeFile(join(dir, 'keepalived.conf'), guide.keepalived);
      const result = await rehearse([join(dir, 'haproxy.cfg'), join(dir, 'keepalived.conf'), '--steps', 'baseline,lb-engine-crash']);
      assert.equal(result.code, 1, summary(result));
      const report = result.report!;
      assert.equal(describeStep(report, 'baseline')?.lost, false, summary(result));
      const crash = describeStep(report, 'lb-engine-crash')!;
      assert.equal(crash.lost, true);
      assert.ok(crash.losses.some((l) => /the VIP stayed on lb-01: it never moved/.test(l.text)), summary(result));
      assert.ok(crash.vipHolders.every((h) => h.includes('lb-01')), `the VIP never left lb-01: ${JSON.stringify(crash.vipHolders)}`);
      // The lines: the track_script entry keepalived ignores (its own log names it), and the vrrp_script block
      // defined after the instance, its pidof and its weight (doctor's rules).
      const lines = guide.keepalived.split('\n');
      const line = (pattern: RegExp, from = 0) => lines.findIndex((l, i) => i >= from && pattern.test(l)) + 1;
      const tracked = line(/^\s*chk_haproxy\s*$/, line(/track_script/) - 1);
      const keepalivedCauses = crash.causes.filter((c) => c.file === join(dir, 'keepalived.conf'));
      assert.ok(keepalivedCauses.some((c) => c.line === tracked && /keepalived ignores it/.test(c.text) && c.rule === null), JSON.stringify(crash.causes, null, 1));
      for (const [pattern, rule] of [[/^\s*vrrp_script chk_haproxy/, 'keepalived/script-after-instance'], [/pidof haproxy/, 'keepalived/pidof-check'], [/^\s*weight 2/, 'keepalived/weight-gap']] as const) {
        assert.ok(keepalivedCauses.some((c) => c.line === line(pattern) && c.rule === rule), `${rule} at line ${line(pattern)}: ${JSON.stringify(keepalivedCauses)}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }));

  test('the files `render haproxy` + `render keepalived` write for the same cluster: no loss in the whole drill, in under 2 minutes', { timeout: 300_000 }, async (t) => {
    if (!(await prerequisites(t))) return;
    const text = await readFile(SPEC, 'utf8');
    const loaded = parseSpec(text, SPEC);
    assert.ok(loaded.spec);
    const dir = await mkdtemp(join(tmpdir(), 'ce-rehearse-rendered-'));
    try {
      const context = { version: 'test', specName: 'endpoint.yaml' };
      const paths: string[] = [];
      for (const file of [...haproxyRenderer.render(loaded.spec, context), ...keepalivedRenderer.render(loaded.spec, context)]) {
        const path = join(dir, file.path);
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, file.contents);
        paths.push(path);
      }
      const result = await rehearse(['-c', SPEC, ...paths]);
      t.diagnostic(`${summary(result)}\ndrill ${Math.round((result.report?.durationMs ?? 0) / 1000)}s`);
      assert.equal(result.code, 0, summary(result));
      assert.equal(result.report?.steps.length, 10, 'every step ran');
      assert.ok((result.report?.durationMs ?? Infinity) < 120_000, `the run took ${result.report?.durationMs} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('serve with the spec: no loss in the whole drill', { timeout: 300_000 }, async (t) => {
    if (!(await prerequisites(t))) return;
    const result = await rehearse(['-c', SPEC, '--serve']);
    t.diagnostic(`${summary(result)}\ndrill ${Math.round((result.report?.durationMs ?? 0) / 1000)}s`);
    assert.equal(result.code, 0, summary(result));
    assert.equal(result.report?.steps.length, 10, 'every step ran');
  });

  // Each trap through the pool, the longest drills first.
  for (const trap of [...DRILL_TRAPS].sort((a, b) => b.steps.split(',').length - a.steps.split(',').length)) {
    // The pool is entered before anything is awaited, so the labs take their turns in this order.
    test(`the drill catches ${trap.dir}: ${trap.kind}`, { timeout: 300_000 }, (t) => beside(async () => {
      if (!(await prerequisites(t))) return;
      const paths = trap.files.map((f) => join(TRAPS, trap.dir, f));
      // The fixtures are in git without their modes' guarantee: the check script must be executable, as on the host.
      for (const path of paths) if (path.endsWith('.sh')) await chmod(path, 0o755);
      const result = await rehearse([...paths, '--steps', trap.steps]);
      t.diagnostic(`${trap.dir} (${trap.source}):\n${summary(result)}`);
      assert.equal(result.code, 1, `${trap.dir}: ${summary(result)}`);
      const step = describeStep(result.report, trap.step);
      assert.equal(step?.lost, true, `${trap.dir}: ${trap.step} lost`);
      const [file, line, text] = trap.cause;
      const cause = step!.causes.find((c) => c.file === join(TRAPS, trap.dir, file) && c.line === line);
      assert.ok(cause && text.test(cause.text), `${trap.dir}: a cause at ${file}:${line} matching ${text}: ${JSON.stringify(step!.causes, null, 1)}`);
      assert.equal(cause.rule, null, `${trap.dir}: found by the drill, not by a doctor rule`);
    }));
  }

  test('nothing left behind: a rehearsal stopped with SIGINT removes its namespaces, processes and files', { timeout: 240_000 }, (t) => beside(async () => {
    if (!(await prerequisites(t))) return;
    await interrupted();
  }));
});

describe('traps the drill catches without a doctor rule', { concurrency: false }, () => {
  test('every trap fixture is in the table', () => {
    assert.deepEqual(readdirSync(TRAPS).sort(), DRILL_TRAPS.map((t) => t.dir).sort());
    assert.ok(new Set(DRILL_TRAPS.map((t) => t.kind)).size >= 6);
  });

  test('doctor names none of them at the line the drill points at', async () => {
    for (const trap of DRILL_TRAPS) {
      const inputs = await Promise.all(trap.files.map(async (f) => ({ path: f, text: await readFile(join(TRAPS, trap.dir, f), 'utf8') })));
      const report = await runDoctor(inputs, { engines: false, includes: { read: async () => undefined, list: async () => [] } });
      const [file, line] = trap.cause;
      assert.deepEqual(report.findings.filter((f) => f.severity !== 'info' && f.file === file && f.line === line).map((f) => f.rule), [], `${trap.dir}: doctor at ${file}:${line}`);
    }
  });
});

/** A rehearsal interrupted while a node is crashed: it exits 130 and leaves nothing behind. */
async function interrupted(): Promise<void> {
  const child = spawn(process.execPath, [...cliArgv(), 'rehearse', join(TRAPS, 'tunnel-timeout/haproxy.cfg'), '--steps', 'baseline,node-crash'], { cwd: ROOT });
  let stderr = '';
  const pids = new Set<number>();
  const namespaces = new Set<string>();
  const crashing = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { stderr += d; if (/step node-crash/.test(stderr)) resolve(); }));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await Promise.race([crashing, exited]);
  // What the run has now: its namespaces and every process in them (the LB host's whole PID namespace too).
  for (const ns of (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0])) {
    if (!ns.startsWith(`${LAB_PREFIX}-${child.pid}x`)) continue;
    namespaces.add(ns);
    for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) pids.add(Number(pid));
  }
  const work = (await readdir(tmpdir())).filter((name) => name.startsWith(`${WORK_PREFIX}${child.pid}-`));
  assert.ok(namespaces.size >= 6 && pids.size >= 6 && work.length === 1, `the lab was up: ${namespaces.size} namespaces, ${pids.size} processes, ${work.length} work directory\n${stderr}`);
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  const left = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${LAB_PREFIX}-${child.pid}x`));
  assert.deepEqual(left, [], 'no namespace left');
  const alive = [...pids].filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
  assert.deepEqual(alive, [], 'no process left');
  assert.deepEqual((await readdir(tmpdir())).filter((name) => name.startsWith(`${WORK_PREFIX}${child.pid}-`)), [], 'no work directory left');
  assert.match(stderr, /stopping: removing the lab/);
}
