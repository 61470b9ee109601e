// render keepalived: the failover decisions (pure), the file's shape, and `keepalived -t -e -f` on every
// rendered file inside a network namespace that has the interface the file names.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { keepalivedRenderer, planFailover } from '../../../src/render/keepalived/index.js';
import type { Vip } from '../../../src/spec/types.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { caseSpec, GOLDEN_CONTEXT, loadSpec, renderError } from './golden.js';

const exec = promisify(execFile);
const CASES = ['bare-metal-tcp', 'bare-metal-https-client-cert', 'bare-metal-workers', 'bare-metal-nopreempt'] as const;

const vip = (over: Partial<Vip> = {}): Vip => ({
  address: '10.0.0.30', family: 4, prefixLength: 24, interface: 'eth0', virtualRouterId: 51, advertIntervalMs: 1000,
  preempt: true, unicast: true,
  peers: [{ name: 'lb-01', address: '10.0.0.11', priority: 100 }, { name: 'lb-02', address: '10.0.0.12', priority: 90 }],
  ...over,
});

const SPEC = `
cluster: { name: t }
endpoint: 10.0.0.30
controlPlane:
  - { name: cp-01, address: 10.0.0.31 }
listeners:
  - { name: talos, port: 50000, targetPort: 50000, targets: controlPlane }
  - { name: kubernetes, port: 7443, targetPort: 6443, targets: controlPlane }
vip:
  address: 10.0.0.30
  peers:
    - { name: lb-01, address: 10.0.0.11, priority: 100 }
    - { name: lb-02, address: 10.0.0.12, priority: 90 }
    - { name: lb-03, address: 10.0.0.13, priority: 80 }
`;

const files = (text: string) => keepalivedRenderer.render(loadSpec(text), GOLDEN_CONTEXT);
const fileOf = (text: string, peer: string) => {
  const file = files(text).find((f) => f.path === `${peer}/keepalived.conf`);
  assert.ok(file, `a file for ${peer}`);
  return file.contents;
};

test('advert_int: whole seconds are VRRPv2; sub-second and IPv6 need VRRPv3', () => {
  assert.deepEqual(pick(planFailover(vip())), { version: 2, advertInt: '1' });
  assert.deepEqual(pick(planFailover(vip({ advertIntervalMs: 3000 }))), { version: 2, advertInt: '3' });
  assert.deepEqual(pick(planFailover(vip({ advertIntervalMs: 500 }))), { version: 3, advertInt: '0.5' });
  assert.deepEqual(pick(planFailover(vip({ advertIntervalMs: 1250 }))), { version: 3, advertInt: '1.25' });
  assert.deepEqual(pick(planFailover(vip({ address: 'fd00::30', family: 6, peers: [{ name: 'a', address: 'fd00::11', priority: 10 }] }))), { version: 3, advertInt: '1' });
  assert.match(renderError(() => planFailover(vip({ advertIntervalMs: 5 }))).message, /^vip\.advertInterval: 5ms cannot be written/);
  assert.match(renderError(() => planFailover(vip({ advertIntervalMs: 300_000 }))).message, /VRRPv2 takes 1s to 255s/);
});

function pick(plan: { version: number; advertInt: string }) {
  return { version: plan.version, advertInt: plan.advertInt };
}

test('authentication: VRRPv2 PASS with the first 8 characters; VRRPv3 has none, so authKey is an error there', () => {
  assert.equal(planFailover(vip({ authKey: '0123456789abcdef' })).authPass, '01234567');
  assert.equal(planFailover(vip()).authPass, undefined);
  const subSecond = renderError(() => planFailover(vip({ authKey: 'secret-key', advertIntervalMs: 500 })));
  assert.equal(subSecond.code, 'RENDER');
  assert.match(subSecond.message, /VRRPv3 has no authentication/);
  assert.match(renderError(() => planFailover(vip({ authKey: 'secret-key', address: 'fd00::30', family: 6 }))).hint ?? '', /remove vip.authKey/);
  assert.match(renderError(() => planFailover(vip({ authKey: 'two words here' }))).message, /no space, quote/);
});

test('states and weight: MASTER is the highest priority when preempting; nopreempt means BACKUP everywhere; weight 0 (FAULT)', () => {
  const preempt = planFailover(vip());
  assert.deepEqual([...preempt.states], [['lb-01', 'MASTER'], ['lb-02', 'BACKUP']]);
  assert.equal(preempt.nopreempt, false);
  assert.equal(preempt.weight, 0);
  assert.match(preempt.weightReason, /FAULT/);
  const sticky = planFailover(vip({ preempt: false }));
  assert.deepEqual([...sticky.states], [['lb-01', 'BACKUP'], ['lb-02', 'BACKUP']]);
  assert.equal(sticky.nopreempt, true);
  assert.equal(sticky.weight, 0, 'a negative weight never moves the VIP under nopreempt');
  assert.match(sticky.weightReason, /nopreempt/);
});

test('bad peers are render errors that name the field', () => {
  assert.match(renderError(() => planFailover(vip({ peers: [] }))).message, /^vip\.peers: lists no LB host/);
  const dns = renderError(() => planFailover(vip({ peers: [{ name: 'lb', address: 'lb.example.com', priority: 5 }] })));
  assert.match(dns.message, /vip.peers\[0\].address: unicast VRRP needs an IP address/);
  assert.doesNotThrow(() => planFailover(vip({ unicast: false, peers: [{ name: 'lb', address: 'lb.example.com', priority: 5 }] })));
  const noVip = renderError(() => keepalivedRenderer.render(loadSpec('cluster: { name: t }\nendpoint: 10.0.0.30\ncontrolPlane: [{ name: cp-01, address: 10.0.0.31 }]\n'), GOLDEN_CONTEXT));
  assert.equal(noVip.code, 'RENDER');
  assert.match(noVip.message, /no vip section/);
});

test('one file per peer; the vrrp_script is defined before the instance that tracks it', () => {
  assert.deepEqual(files(SPEC).map((f) => f.path), ['lb-01/keepalived.conf', 'lb-02/keepalived.conf', 'lb-03/keepalived.conf']);
  const conf = fileOf(SPEC, 'lb-02');
  const script = conf.indexOf('vrrp_script chk_haproxy {');
  const instance = conf.indexOf('vrrp_instance t-endpoint {');
  assert.ok(script > 0 && instance > script, 'vrrp_script first');
  assert.match(conf.slice(instance), /track_script \{\n\s+chk_haproxy\n\s+\}/);
  assert.match(conf, /global_defs \{[^}]*script_user root\n\s+enable_script_security/);
});

test('the check asks HAProxy\'s monitor whether the kubernetes backend (not the first listener) has a server up; never pidof', () => {
  const conf = fileOf(SPEC, 'lb-01');
  assert.ok(conf.includes(`script "/usr/bin/timeout 1 /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/8404 && { echo GET /ready HTTP/1.0; echo; } >&3 && /usr/bin/head -n1 <&3 | /usr/bin/grep -qw 200'"`), conf);
  assert.match(conf, /backend kubernetes\n# has a server up/);
  assert.deepEqual(conf.split('\n').filter((l) => /^\s*script /.test(l)).length, 1, 'one check script');
  assert.doesNotMatch(conf.split('\n').filter((l) => /^\s*script /.test(l)).join('\n'), /pidof|killall/);
  assert.match(conf, /interval 1\n\s+timeout 2\n\s+fall 2\n\s+rise 2\n(\s+#.*\n)+\s+weight 0\n/);
});

test('unicast: own address as source, the other peers as destinations; multicast when unicast is false', () => {
  const conf = fileOf(SPEC, 'lb-02');
  assert.match(conf, /unicast_src_ip 10\.0\.0\.12\n\s+unicast_peer \{\n\s+10\.0\.0\.11\n\s+10\.0\.0\.13\n\s+\}/);
  assert.match(conf, /state BACKUP\n\s+interface eth0\n\s+virtual_router_id 51\n\s+priority 90\n\s+advert_int 1\n/);
  assert.match(fileOf(SPEC, 'lb-01'), /state MASTER/);
  const multicast = fileOf(SPEC.replace('  address: 10.0.0.30\n  peers:', '  address: 10.0.0.30\n  unicast: false\n  peers:'), 'lb-01');
  assert.doesNotMatch(multicast, /unicast_src_ip|unicast_peer/);
  // One LB host has no peer to advertise to: no unicast keywords (keepalived would warn and fall back to multicast).
  const alone = fileOf(SPEC.replace(/\n    - \{ name: lb-0[23].*/g, ''), 'lb-01');
  assert.doesNotMatch(alone, /unicast_src_ip|unicast_peer/);
  assert.match(alone, /# vip\.unicast: one LB host, no peer to advertise to/);
});

test('VIP, gratuitous ARP, nopreempt and auth lines', () => {
  const conf = fileOf(SPEC, 'lb-03');
  assert.match(conf, /virtual_ipaddress \{\n\s+10\.0\.0\.30\/24 dev eth0\n\s+\}/);
  for (const line of ['garp_master_delay 1', 'garp_master_repeat 5', 'garp_master_refresh 60', 'garp_master_refresh_repeat 2']) assert.ok(conf.includes(`    ${line}\n`), line);
  assert.doesNotMatch(conf, /nopreempt|authentication/);
  const sticky = fileOf(SPEC.replace('  address: 10.0.0.30\n  peers:', '  address: 10.0.0.30\n  preempt: false\n  authKey: 0123456789abcdef\n  peers:'), 'lb-01');
  assert.match(sticky, /state BACKUP/);
  assert.match(sticky, /\n\s+nopreempt\n/);
  assert.match(sticky, /authentication \{\n\s+auth_type PASS\n\s+auth_pass 01234567\n\s+\}/);
  assert.match(sticky, /only the first 8 characters/);
});

async function canUseNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try { await exec('keepalived', ['--version']); await exec('ip', ['-V']); return true; } catch { return false; }
}

/** Runs keepalived -t -e -f FILE inside a fresh namespace that has a link named `iface`. */
async function configTest(path: string, iface: string): Promise<{ code: number; output: string }> {
  const ns = `cekt${randomBytes(4).toString('hex')}`;
  await exec('ip', ['netns', 'add', ns]);
  try {
    await exec('ip', ['-n', ns, 'link', 'add', iface, 'type', 'veth', 'peer', 'name', 'peer0']);
    try {
      const { stdout, stderr } = await exec('ip', ['netns', 'exec', ns, 'keepalived', '-t', '-e', '-f', path, '-l']);
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, output: e.stdout + e.stderr };
    }
  } finally {
    await exec('ip', ['netns', 'del', ns]);
  }
}

test('keepalived -t -e -f accepts every rendered keepalived.conf, with no warning', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, await canUseNamespaces(), 'needs root, keepalived and ip (network namespaces)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-keepalived-t-'));
  try {
    const ipv6 = loadSpec([
      'cluster: { name: six }', 'endpoint: "fd00:10::30"', 'controlPlane: [{ name: cp-01, address: "fd00:10::31" }]', 'balancer: { bind: "::" }',
      'vip: { address: "fd00:10::30", prefixLength: 64, peers: [{ name: lb-01, address: "fd00:10::11", priority: 100 }, { name: lb-02, address: "fd00:10::12", priority: 90 }] }',
    ].join('\n'));
    assert.match(keepalivedRenderer.render(ipv6, GOLDEN_CONTEXT)[0].contents, /\/dev\/tcp\/127\.0\.0\.1\/8404[\s\S]*version 3\n/);
    const onePeer = loadSpec(SPEC.replace(/\n    - \{ name: lb-0[23].*/g, ''));
    assert.equal(onePeer.vip!.peers.length, 1);
    const specs = [...CASES.map((name) => ({ name, spec: caseSpec(name) })), { name: 'three-peers', spec: loadSpec(SPEC) }, { name: 'ipv6', spec: ipv6 }, { name: 'one-peer', spec: onePeer }];
    for (const { name, spec } of specs) {
      for (const file of keepalivedRenderer.render(spec, GOLDEN_CONTEXT)) {
        const path = join(dir, `${name}-${file.path.replaceAll('/', '-')}`);
        await writeFile(path, file.contents);
        const result = await configTest(path, spec.vip!.interface);
        assert.equal(result.code, 0, `keepalived -t rejects ${name}/${file.path}:\n${result.output}`);
        assert.equal(result.output.trim(), '', `keepalived -t warns about ${name}/${file.path}:\n${result.output}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('keepalived -t: the interface must exist (exit 5), and the guide\'s config drops its track_script', { timeout: 30_000 }, async (t) => {
  if (!requireOrSkip(t, await canUseNamespaces(), 'needs root, keepalived and ip (network namespaces)')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ce-keepalived-t-'));
  try {
    const path = join(dir, 'keepalived.conf');
    await writeFile(path, fileOf(SPEC, 'lb-01'));
    const missing = await configTest(path, 'ens99');
    assert.equal(missing.code, 5, `a missing interface fails the test:\n${missing.output}`);

    // The reference guide's keepalived.conf as printed there: script after the instance, pidof, weight 2.
    await writeFile(path, [
      'vrrp_instance VI_1 {', 'state MASTER', 'interface eth0', 'virtual_router_id 51', 'priority 100', 'advert_int 1',
      'virtual_ipaddress {', '192.168.30.30/24', '}', 'track_script {', 'chk_haproxy', '}', '}',
      'vrrp_script chk_haproxy {', 'script "pidof haproxy"', 'interval 2', 'weight 2', '}', '',
    ].join('\n'));
    const result = await configTest(path, 'eth0');
    assert.match(result.output, /track script chk_haproxy not found, ignoring/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
