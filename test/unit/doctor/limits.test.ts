// doctor reads hostile or huge files without crashing and in linear time (issue 24, item 7): depth and size
// are bounded before any parser runs, and the rules that find a line per server or block use indexes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOCTOR_LIMITS } from '../../../src/doctor/limits.js';
import { runDoctor } from '../../../src/doctor/run.js';
import { runCli } from '../../helpers/cli.js';

const DEEP = 900;

test('doctor on a 6 KiB JSON document nested 900 deep: a doctor/limit finding, exit 1, no V8 abort', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-doctor-limits-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'deep.json');
  await writeFile(file, `{"machine":${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}}`);
  const result = await runCli(['doctor', '--no-engines', file]);
  assert.equal(result.code, 1, `${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /deep\.json:1: error \[doctor\/limit\] the file nests more than 64 levels deep/);
  assert.doesNotMatch(`${result.stdout}${result.stderr}`, /FATAL|Maximum call stack|\n\s+at /);
});

test('every kind of file nested too deeply is a doctor/limit finding at its line, not a parser\'s stack overflow', async () => {
  const braces = (open: string) => `${open}\n${'x {\n'.repeat(DEEP)}${'}\n'.repeat(DEEP)}}\n`;
  const inputs = [
    { path: 'controlplane.yaml', text: `version: v1alpha1\nmachine:\n  x: ${'['.repeat(DEEP)}${']'.repeat(DEEP)}\n` },
    { path: 'talosconfig', text: `context: a\ncontexts:\n  a: ${'{b: '.repeat(DEEP)}1${'}'.repeat(DEEP)}\n` },
    { path: 'endpoint.yaml', text: `cluster: { name: x }\nx:\n  ${'- '.repeat(DEEP)}1\n` },
    { path: 'keepalived.conf', text: braces('vrrp_instance VI_1 {') },
    { path: 'bird.conf', text: braces('protocol bgp a {') },
    { path: 'main.tf', text: `locals {\n  x = ${'['.repeat(DEEP)}${']'.repeat(DEEP)}\n}\n` },
  ];
  const report = await runDoctor(inputs);
  for (const { path } of inputs) {
    const finding = report.findings.find((f) => f.file === path);
    assert.equal(finding?.rule, 'doctor/limit', `${path}: ${JSON.stringify(report.findings.filter((f) => f.file === path))}`);
    assert.ok(finding.line > 1 || path === 'endpoint.yaml' || path === 'main.tf', `${path}: line ${finding.line}`);
    assert.doesNotMatch(finding.message, /Maximum call stack/);
  }
});

test('comments and strings do not count as nesting: real configs with braces in them are read', async () => {
  const report = await runDoctor([
    { path: 'keepalived.conf', text: `# {{{{ ${'{'.repeat(100)}\nvrrp_instance VI_1 { ! also { ignored ${'{'.repeat(100)}\n  state MASTER\n}\n` },
    { path: 'main.tf', text: `# ${'{'.repeat(100)}\n/* ${'['.repeat(100)} */\nvariable "x" {\n  default = "${'{'.repeat(100)}" // ${'('.repeat(100)}\n}\n` },
  ]);
  assert.deepEqual(report.findings.filter((f) => f.rule === 'doctor/limit'), []);
});

test('a file over the size bound is a doctor/limit finding', async () => {
  const report = await runDoctor([{ path: 'haproxy.cfg', text: `global\n#${'x'.repeat(DOCTOR_LIMITS.bytes)}\n` }]);
  assert.equal(report.findings[0]?.rule, 'doctor/limit');
  assert.match(report.findings[0].message, /doctor reads at most 8 MiB/);
});

/** The fastest of three runs, in ms. */
async function fastest(run: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

function haproxyConfig(servers: number): string {
  const lines = ['global', '  maxconn 1000', 'defaults', '  mode tcp', '  timeout client 1h', '  timeout server 1h', '  timeout connect 5s',
    'frontend k8s', '  bind :6443', '  default_backend k8s', 'backend k8s', '  balance roundrobin', '  option httpchk GET /readyz', '  http-check expect status 200'];
  for (let i = 0; i < servers; i++) lines.push(`  server cp-${i} 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:6443 check check-ssl verify none inter 10s fall 2 rise 2`);
  return `${lines.join('\n')}\n`;
}

function terraformFile(blocks: number): string {
  let text = '';
  for (let i = 0; i < blocks; i++) {
    text += `variable "v${i}" {\n  default = "x${i}"\n}\n\nresource "aws_lb_target_group" "tg${i}" {\n  name     = "tg-\${var.v${i}}"\n  port     = 6443\n  protocol = "TCP"\n  health_check {\n    protocol = "TCP"\n  }\n}\n\n`;
  }
  return text;
}

test('haproxy.cfg rules take linear time in the number of server lines (8× the servers: well under 64× the time)', async () => {
  const small = await fastest(() => runDoctor([{ path: 'haproxy.cfg', text: haproxyConfig(1500) }]));
  const large = await fastest(() => runDoctor([{ path: 'haproxy.cfg', text: haproxyConfig(12_000) }]));
  assert.ok(large / small < 24, `1,500 servers: ${small.toFixed(0)} ms; 12,000: ${large.toFixed(0)} ms (${(large / small).toFixed(1)}×)`);
});

test('Terraform rules take linear time in the number of blocks (8× the blocks: well under 64× the time)', async () => {
  const small = await fastest(() => runDoctor([{ path: 'main.tf', text: terraformFile(300) }]));
  const large = await fastest(() => runDoctor([{ path: 'main.tf', text: terraformFile(2400) }]));
  assert.ok(large / small < 24, `300 blocks: ${small.toFixed(0)} ms; 2,400: ${large.toFixed(0)} ms (${(large / small).toFixed(1)}×)`);
});
