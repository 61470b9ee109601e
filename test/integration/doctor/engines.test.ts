// The engines' own verdict on every doctor fixture: haproxy -c, keepalived -t (in a scratch network
// namespace with the file's interfaces) and terraform fmt -check, run by doctor's engine runner. The
// recorded table says, file by file, what each engine reports — so the corpus shows which traps the
// engines catch and which only doctor finds (docs/doctor.md lists the same). Under CI a missing engine
// fails the run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import type { ParsedFile } from '../../../src/doctor/context.js';
import { detectKind } from '../../../src/doctor/detect.js';
import { runEngines, type Engine } from '../../../src/doctor/engines/engine.js';
import { haproxyEngine } from '../../../src/doctor/engines/haproxy.js';
import { keepalivedEngine } from '../../../src/doctor/engines/keepalived.js';
import { terraformEngine } from '../../../src/doctor/engines/terraform.js';
import { parseHaproxy } from '../../../src/doctor/parsers/haproxy.js';
import { parseKeepalived } from '../../../src/doctor/parsers/keepalived.js';
import { runDoctor } from '../../../src/doctor/run.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { inputs, TRAPS } from '../../unit/doctor/traps.js';

const FIXTURES = join(ROOT, 'test/fixtures/doctor');

/** What the engines report per fixture ("line severity: start of the message"); every file not listed: nothing. */
const VERDICTS: Record<string, string[]> = {
  'bad/guide-keepalived.conf': ['12 error: keepalived -t: (VI_1) track script chk_haproxy not found', '16 warning: keepalived -t: SECURITY VIOLATION'],
  'bad/unknown-track-script.conf': ['20 error: keepalived -t: (VI_1) track script chk_haproxyy not found'],
  'traps/auth-pass-length/bad-quoted.conf': ['11 warning: keepalived -t: Truncating auth_pass to 8 characters'],
  'traps/auth-pass-length/bad-unquoted.conf': ['9 warning: keepalived -t: Truncating auth_pass to 8 characters'],
  'traps/duplicate-vrid/bad-one-file.conf': ['20 error: keepalived -t: api and ingress both use VRID 51 with IPv4 on interface eth0'],
  'traps/haproxy-unknown-keyword/bad-section.cfg': [
    "4 error: haproxy -c: unknown keyword 'timout' in 'defaults' section; did you mean 'timeout'",
    "14 error: haproxy -c: unknown keyword 'optin' in 'backend' section; did you mean 'option'",
    "16 error: haproxy -c: unknown option 'redispatc'; did you mean 'redispatch'",
  ],
  'traps/haproxy-unknown-keyword/bad-server.cfg': [
    "13 error: haproxy -c: 'server kubernetes/cp-02' : unknown keyword 'chek'; did you mean 'check'",
    "14 error: haproxy -c: 'server kubernetes/cp-03' : unknown keyword 'fal'; did you mean 'fall'",
  ],
  'traps/keepalived-unknown-keyword/bad-global-script.conf': [
    "3 error: keepalived -t: Unknown keyword 'enable_script_securty'",
    '7 warning: keepalived -t: SECURITY VIOLATION',
    "9 error: keepalived -t: Unknown keyword 'intervall'",
  ],
  'traps/keepalived-unknown-keyword/bad-instance.conf': ["5 error: keepalived -t: Unknown keyword 'priorty'"],
  // keepalived -t on one file of an include tree, out of its place: what doctor avoids by reading includes in context.
  'include/bad/keepalived.conf': ["15 error: keepalived -t: Config files missing 'conf.d/*.conf'"],
  'include/good/keepalived.conf': ["15 error: keepalived -t: Config files missing 'conf.d/*.conf'"],
  'include/bad/conf.d/vip.conf': ["18 error: keepalived -t: Config files missing '../vip-extra/{garp,notify}.conf'"],
  'include/good/conf.d/vip.conf': ["18 error: keepalived -t: Config files missing '../vip-extra/{garp,notify}.conf'"],
};

/** The bad cases of the traps at least one engine catches (a finding at a line doctor reports); the rest only doctor finds. */
const CAUGHT_BY_ENGINES = [
  'auth-pass-length/bad-quoted.conf', 'auth-pass-length/bad-unquoted.conf', 'duplicate-vrid/bad-one-file.conf',
  'haproxy-unknown-keyword/bad-section.cfg', 'haproxy-unknown-keyword/bad-server.cfg',
  'keepalived-unknown-keyword/bad-global-script.conf', 'keepalived-unknown-keyword/bad-instance.conf',
];

const root = process.getuid?.() === 0;
const has = (binary: string, ...args: string[]) => spawnSync(binary, args).status === 0;
const AVAILABLE: Record<string, () => string | undefined> = {
  haproxy: () => (has('haproxy', '-v') ? undefined : 'haproxy is not installed'),
  keepalived: () => (has('keepalived', '--version') && root ? undefined : 'keepalived and root (for a scratch network namespace) are needed'),
  terraform: () => (has('terraform', 'version') ? undefined : 'terraform is not on PATH'),
};
const ENGINE_OF: Record<string, Engine> = { haproxy: haproxyEngine, keepalived: keepalivedEngine, terraform: terraformEngine };
const ENGINE_RULES = new Set(Object.values(ENGINE_OF).map((e) => e.id));

function walk(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((entry) => (statSync(join(dir, entry)).isDirectory() ? walk(join(dir, entry)) : [join(dir, entry)]));
}

/** Just enough of a parsed file for the engines (they read the text; keepalived also the interface names). */
function parsed(path: string, text: string): ParsedFile | undefined {
  const kind = detectKind(path, text);
  if (kind === 'haproxy') return { kind, path, text, config: parseHaproxy(text) };
  if (kind === 'keepalived') return { kind, path, text, config: parseKeepalived(text) };
  if (kind === 'terraform') return { kind, path, text, terraform: { path, text, json: {} } };
  return undefined;
}

const verdictOf = (f: { line: number; severity: string; message: string }) => `${f.line} ${f.severity}: ${f.message}`;
const matches = (actual: string[], recorded: string[]) => actual.length === recorded.length && recorded.every((r, i) => actual[i].startsWith(r));

describe('the engines on every doctor fixture', () => {
  const files = walk(FIXTURES).map((path) => ({ path, text: readFileSync(path, 'utf8') })).map((f) => parsed(f.path, f.text)).filter((f): f is ParsedFile => f !== undefined);
  for (const kind of ['haproxy', 'keepalived', 'terraform'] as const) {
    const mine = files.filter((f) => f.kind === kind);
    test(`${ENGINE_OF[kind].name}: ${mine.length} fixtures, each with its recorded verdict`, async (t) => {
      if (!requireOrSkip(t, AVAILABLE[kind]() === undefined, AVAILABLE[kind]() ?? '')) return;
      for (const file of mine) {
        const { findings, runs } = await runEngines([ENGINE_OF[kind]], [file]);
        assert.deepEqual(runs, [{ engine: ENGINE_OF[kind].name, files: 1 }]);
        const actual = findings.map(verdictOf).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
        const recorded = VERDICTS[relative(FIXTURES, file.path)] ?? [];
        assert.ok(matches(actual, recorded), `${relative(FIXTURES, file.path)}:\n  got ${JSON.stringify(actual)}\n  recorded ${JSON.stringify(recorded)}`);
      }
    });
  }

  test('which traps the engines catch, and which only doctor finds', async (t) => {
    for (const kind of Object.keys(AVAILABLE)) if (!requireOrSkip(t, AVAILABLE[kind]() === undefined, AVAILABLE[kind]() ?? '')) return;
    const caught: string[] = [];
    const missed: string[] = [];
    for (const trap of TRAPS) {
      for (const bad of trap.bad) {
        const given = inputs(trap, bad.path);
        const withEngines = await runDoctor(given, { engines: true });
        const rulesOnly = await runDoctor(given);
        // The engines' words show up as new findings or cited in the why of a rule finding on their line.
        const engineSpoke = withEngines.findings.some((f) => (ENGINE_RULES.has(f.rule) ? f.severity !== 'info' : /\((haproxy -c|keepalived -t|terraform fmt -check): /.test(f.why)));
        (engineSpoke ? caught : missed).push(`${trap.dir}/${bad.path}`);
        assert.ok(rulesOnly.findings.length > 0, `${trap.dir}/${bad.path}: doctor's rules find it`);
      }
    }
    caught.sort();
    t.diagnostic(`caught by the engines too: ${caught.join(', ')}`);
    t.diagnostic(`only doctor finds: ${missed.join(', ')}`);
    assert.deepEqual(caught, CAUGHT_BY_ENGINES);
  });
});

describe('engine messages become findings with file and line', () => {
  test('terraform fmt -check: a syntax error at its line, a formatting difference as info', async (t) => {
    if (!requireOrSkip(t, AVAILABLE.terraform() === undefined, AVAILABLE.terraform() ?? '')) return;
    const report = await runDoctor([
      { path: 'broken.tf', text: 'resource "aws_lb" "x" {\n  name = \n}\n' },
      { path: 'unformatted.tf', text: 'variable "a" {\n  default = 1\n    type = number\n}\n' },
    ], { engines: true });
    const found = report.findings.map((f) => [f.file, f.line, f.severity, f.rule]);
    // The syntax error is said once, with terraform's words in its why.
    assert.deepEqual(found, [['broken.tf', 2, 'error', 'doctor/syntax'], ['unformatted.tf', 3, 'info', 'terraform/terraform-fmt']]);
    assert.match(report.findings[0].why, /\(terraform fmt -check: Invalid expression/);
  });

  test('haproxy -c: what depends on this machine (a missing certificate, a name that does not resolve here) is info, not an error', async (t) => {
    if (!requireOrSkip(t, AVAILABLE.haproxy() === undefined, AVAILABLE.haproxy() ?? '')) return;
    const text = [
      'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 1h', '  timeout server 1h',
      'frontend api', '  bind :6443 ssl crt /etc/haproxy/certs/does-not-exist-here.pem', '  default_backend api',
      'backend api', '  option httpchk GET /readyz', '  default-server check check-ssl verify none on-marked-down shutdown-sessions',
      '  server cp-01 192.168.30.31:6443', '  server cp-02 192.168.30.32:6443', '  server cp-03 192.168.30.33:6443', '',
    ].join('\n');
    const report = await runDoctor([{ path: 'haproxy.cfg', text }], { engines: true });
    const engine = report.findings.filter((f) => f.rule === 'haproxy/haproxy-c');
    assert.deepEqual(engine.map((f) => [f.line, f.severity]), [[7, 'info']]);
    assert.match(engine[0].message, /does-not-exist-here\.pem/);
    assert.equal(report.counts.error, 0);
  });

  test('keepalived -t: a check script missing on this machine is info; the CLI prints which engines ran', async (t) => {
    if (!requireOrSkip(t, AVAILABLE.keepalived() === undefined, AVAILABLE.keepalived() ?? '')) return;
    const text = readFileSync(join(FIXTURES, 'good/keepalived-lb1.conf'), 'utf8').replace(/script "[^"]*"/, 'script "/etc/keepalived/check_apiserver.sh"');
    const report = await runDoctor([{ path: 'keepalived.conf', text }], { engines: true });
    assert.deepEqual(report.findings.filter((f) => f.severity !== 'info'), []);
    assert.ok(report.findings.some((f) => f.rule === 'keepalived/keepalived-t' && /check_apiserver|not found|accessible/.test(f.message)), JSON.stringify(report.findings));
    assert.deepEqual(report.engines, [{ engine: 'keepalived -t', files: 1 }]);
  });
});
