// The doctor corpus: one bad file (or set of files) per trap, each asserting its finding by rule id and
// line; and good files that must produce no finding of severity warning or error. The newer traps, each
// in two syntaxes with good twins, are in traps.ts; what the engines say about all of them is in
// test/integration/doctor/engines.test.ts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { DoctorOptions } from '../../../src/doctor/context.js';
import { runDoctor } from '../../../src/doctor/run.js';
import { ROOT } from '../../helpers/cli.js';

const BAD = join(ROOT, 'test/fixtures/doctor/bad');
const GOOD = join(ROOT, 'test/fixtures/doctor/good');

interface Expected { rule: string; line: number; severity: 'error' | 'warning' | 'info'; file?: string }
interface Case { name: string; files: string[]; options?: DoctorOptions; expect: Expected[] }

const CASES: Case[] = [
  {
    name: "the guide's haproxy.cfg: 30s timeouts, TCP-only check on the API, no shutdown-sessions",
    files: ['guide-haproxy.cfg'],
    expect: [
      { rule: 'haproxy/short-timeouts', line: 9, severity: 'warning' },
      { rule: 'haproxy/short-timeouts', line: 10, severity: 'warning' },
      { rule: 'haproxy/tcp-only-check', line: 19, severity: 'warning' },
      { rule: 'haproxy/no-shutdown-sessions', line: 20, severity: 'warning' },
      { rule: 'haproxy/no-shutdown-sessions', line: 31, severity: 'warning' },
    ],
  },
  {
    name: "the guide's keepalived.conf: script after instance, weight 2 vs 100/90, pidof, no script security",
    files: ['guide-keepalived.conf'],
    expect: [
      { rule: 'keepalived/script-after-instance', line: 16, severity: 'error' },
      { rule: 'keepalived/script-security', line: 16, severity: 'warning' },
      { rule: 'keepalived/pidof-check', line: 17, severity: 'warning' },
      { rule: 'keepalived/weight-gap', line: 19, severity: 'error' },
    ],
  },
  {
    name: 'option ssl-hello-chk after option httpchk replaces the HTTP check',
    files: ['ssl-hello-after-httpchk.cfg'],
    expect: [
      { rule: 'haproxy/ssl-hello-after-httpchk', line: 16, severity: 'error' },
      { rule: 'haproxy/tcp-only-check', line: 16, severity: 'warning' },
    ],
  },
  { name: 'a server without check', files: ['server-without-check.cfg'], expect: [{ rule: 'haproxy/server-without-check', line: 12, severity: 'error' }] },
  { name: 'no balance line on HAProxy 3.3 (version from a comment)', files: ['balance-default-3.3.cfg'], expect: [{ rule: 'haproxy/balance-default', line: 12, severity: 'warning' }] },
  { name: 'no balance line, version from --haproxy-version 3.3', files: ['balance-default-3.3.cfg'], options: { haproxyVersion: '3.3' }, expect: [{ rule: 'haproxy/balance-default', line: 12, severity: 'warning' }] },
  { name: 'no balance line on HAProxy 3.2 is fine', files: ['balance-default-3.3.cfg'], options: { haproxyVersion: '3.2' }, expect: [] },
  { name: 'nopreempt with a negative weight never fails over', files: ['nopreempt-negative-weight.conf'], expect: [{ rule: 'keepalived/nopreempt-negative-weight', line: 14, severity: 'error' }, { rule: 'keepalived/weight-gap', line: 9, severity: 'info' }] },
  { name: 'track_script naming an undefined script', files: ['unknown-track-script.conf'], expect: [{ rule: 'keepalived/unknown-track-script', line: 20, severity: 'error' }] },
  {
    name: 'weight -30 cannot overcome the gap 150 vs 100 across two peer files',
    files: ['weight-gap-peers/keepalived-lb1.conf', 'weight-gap-peers/keepalived-lb2.conf'],
    expect: [{ rule: 'keepalived/weight-gap', line: 9, severity: 'error', file: 'weight-gap-peers/keepalived-lb1.conf' }],
  },
  { name: 'Talos VIP outside the node subnet', files: ['talos-vip-outside-subnet.yaml'], expect: [{ rule: 'talos/vip-subnet', line: 10, severity: 'error' }, { rule: 'talos/legacy-vip', line: 10, severity: 'info' }] },
  { name: "Talos VIP equal to the node's address (installer 1.11: legacy form is fine)", files: ['talos-vip-is-node.yaml'], expect: [{ rule: 'talos/vip-subnet', line: 11, severity: 'error' }] },
  { name: 'legacy VIP form next to 1.12 documents', files: ['talos-legacy-vip-1.12.yaml'], expect: [{ rule: 'talos/legacy-vip', line: 5, severity: 'warning' }] },
  { name: "the guide's Talos patch with --talos-version 1.12", files: ['guide-talos-patch.yaml'], options: { talosVersion: '1.12' }, expect: [{ rule: 'talos/legacy-vip', line: 11, severity: 'warning' }] },
  {
    name: 'talosctl endpoint set to the Talos VIP',
    files: ['talosconfig-vip/controlplane.yaml', 'talosconfig-vip/talosconfig'],
    expect: [{ rule: 'talos/talosconfig-endpoint-vip', line: 5, severity: 'warning', file: 'talosconfig-vip/talosconfig' }, { rule: 'talos/legacy-vip', line: 11, severity: 'info', file: 'talosconfig-vip/controlplane.yaml' }],
  },
  {
    name: 'talosctl endpoint set to an IPv6 Talos VIP (a bare address, no brackets)',
    files: ['talosconfig-vip-ipv6/controlplane.yaml', 'talosconfig-vip-ipv6/talosconfig'],
    expect: [{ rule: 'talos/talosconfig-endpoint-vip', line: 5, severity: 'warning', file: 'talosconfig-vip-ipv6/talosconfig' }, { rule: 'talos/legacy-vip', line: 11, severity: 'info', file: 'talosconfig-vip-ipv6/controlplane.yaml' }],
  },
  { name: 'TCP target group whose health_check has no protocol', files: ['target-group-health-check.tf'], expect: [{ rule: 'terraform/tcp-health-check-protocol', line: 7, severity: 'error' }] },
  { name: 'preserve_client_ip on instance targets', files: ['preserve-client-ip.tf'], expect: [{ rule: 'terraform/preserve-client-ip', line: 6, severity: 'warning' }] },
  {
    name: 'cross-zone off (from tfvars) with 2 NLB subnets for 3 control-plane zones',
    files: ['cross-zone/main.tf', 'cross-zone/aws.tfvars'],
    expect: [{ rule: 'terraform/cross-zone', line: 20, severity: 'warning', file: 'cross-zone/main.tf' }],
  },
  {
    name: 'names over 32 characters: literal, and once ${var.environment} comes from tfvars',
    files: ['name-length/main.tf', 'name-length/prod.tfvars'],
    expect: [
      { rule: 'terraform/name-length', line: 7, severity: 'error', file: 'name-length/main.tf' },
      { rule: 'terraform/name-length', line: 14, severity: 'error', file: 'name-length/main.tf' },
      { rule: 'terraform/name-length', line: 25, severity: 'error', file: 'name-length/main.tf' },
    ],
  },
  {
    name: "the guide's NLB module and aws.tfvars: client IP preservation, a 33-character name, cross-zone off",
    files: ['guide-aws/main.tf', 'guide-aws/aws.tfvars'],
    expect: [
      { rule: 'terraform/cross-zone', line: 34, severity: 'info', file: 'guide-aws/main.tf' },
      { rule: 'terraform/preserve-client-ip', line: 42, severity: 'warning', file: 'guide-aws/main.tf' },
      { rule: 'terraform/preserve-client-ip', line: 56, severity: 'warning', file: 'guide-aws/main.tf' },
      { rule: 'terraform/name-length', line: 66, severity: 'error', file: 'guide-aws/main.tf' },
      { rule: 'terraform/preserve-client-ip', line: 70, severity: 'warning', file: 'guide-aws/main.tf' },
    ],
  },
  { name: 'spec: TCP-only check on the kubernetes listener', files: ['spec-tcp-check.endpoint.yaml'], expect: [{ rule: 'spec/tcp-check-kubernetes', line: 9, severity: 'warning' }] },
  // A TLS handshake is no readiness check either (haproxy/tcp-only-check says so of check-ssl).
  { name: 'spec: one BGP session without BFD (a peer\'s own bfd: false), bgp.bfd on', files: ['spec-bgp-session-without-bfd.endpoint.yaml'], expect: [{ rule: 'spec/bgp-session-without-bfd', line: 17, severity: 'warning' }, { rule: 'spec/bgp-session-without-bfd', line: 21, severity: 'warning' }] },
  { name: 'spec: TLS-handshake-only check on the kubernetes listener', files: ['spec-tls-check.endpoint.yaml'], expect: [{ rule: 'spec/tcp-check-kubernetes', line: 9, severity: 'warning' }] },
  { name: 'spec: idle timeout under 350s and onMarkedDown keep', files: ['spec-idle-timeout.endpoint.yaml'], expect: [{ rule: 'spec/idle-timeout', line: 11, severity: 'warning' }, { rule: 'spec/on-marked-down-keep', line: 12, severity: 'warning' }, { rule: 'spec/tcp-check-kubernetes', line: 9, severity: 'warning' }] },
  { name: 'spec: what validate rejects, with its line', files: ['spec-invalid.endpoint.yaml'], expect: [{ rule: 'spec/validate', line: 6, severity: 'error' }] },
  { name: 'spec: endpoint is a node, preserveClientIp', files: ['spec-aws.endpoint.yaml'], expect: [{ rule: 'spec/endpoint-is-node', line: 3, severity: 'warning' }, { rule: 'spec/preserve-client-ip', line: 10, severity: 'warning' }, { rule: 'spec/tcp-check-kubernetes', line: 8, severity: 'warning' }] },
];

function read(dir: string, files: string[]) {
  return files.map((file) => ({ path: file, text: readFileSync(join(dir, file), 'utf8') }));
}

describe('doctor corpus: bad files', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const report = await runDoctor(read(BAD, c.files), c.options);
      const got = report.findings.map((f) => ({ rule: f.rule, line: f.line, severity: f.severity, file: f.file }));
      const expected = c.expect.map((e) => ({ ...e, file: e.file ?? c.files[0] }));
      const sort = (list: typeof got) => [...list].sort((a, b) => `${a.file}${a.line}${a.rule}`.localeCompare(`${b.file}${b.line}${b.rule}`));
      assert.deepEqual(sort(got), sort(expected));
      for (const f of report.findings) {
        assert.ok(f.message && f.why && f.source && f.fix, `${f.rule}: every finding says what, why, where documented and the fix`);
      }
    });
  }
});

describe('doctor corpus: good files', () => {
  const files = readdirSync(GOOD).sort();
  test('all good files together: no warning, no error (and no info)', async () => {
    const report = await runDoctor(read(GOOD, files));
    assert.deepEqual(report.findings, []);
    assert.ok(report.files.every((f) => f.kind !== 'unknown'), JSON.stringify(report.files));
  });
  for (const file of files) {
    test(`${file} alone: no warning or error`, async () => {
      const report = await runDoctor(read(GOOD, [file]));
      assert.deepEqual(report.findings.filter((f) => f.severity !== 'info'), []);
    });
  }
});
