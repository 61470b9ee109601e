// rehearse's plan (issue 22): the lab is laid out on the addresses and interface names the files name, the
// engines get the files as given (paths they name mapped into the lab), the stand-in nodes act as the Talos or
// kubeadm configs say, and the promises come from the spec, else from the files. Pure: no lab is built.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { runProgram } from '../../../src/cli/program.js';
import fc from 'fast-check';
import { haproxyRenderer } from '../../../src/render/haproxy/haproxy.js';
import { keepalivedRenderer } from '../../../src/render/keepalived/keepalived.js';
import { classify } from '../../../src/rehearse/inputs.js';
import { deriveSecondary, goDurationMs, planRehearsal } from '../../../src/rehearse/plan.js';
import { formatPlan } from '../../../src/rehearse/report.js';
import { parseSpec } from '../../../src/spec/load.js';
import { UserError } from '../../../src/errors.js';
import { guideFiles } from '../../helpers/guide.js';
import { ROOT } from '../../helpers/cli.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const OPTIONS = { serve: false, idleCapMs: 45_000 };
const lineOf = (text: string, pattern: RegExp) => text.split('\n').findIndex((l) => pattern.test(l)) + 1;

export const SAME_CLUSTER_SPEC = readFileSync(join(ROOT, 'test/fixtures/rehearse/same-cluster.endpoint.yaml'), 'utf8');

describe('the reference guide\'s files', () => {
  const guide = guideFiles();
  const plan = planRehearsal(classify([{ path: 'haproxy.cfg', text: guide.haproxy }, { path: 'keepalived.conf', text: guide.keepalived }]), OPTIONS);

  test('two LB hosts: the file as given, and the second host its comments describe (state BACKUP, priority 90)', () => {
    assert.deepEqual(plan.lbHosts.map((h) => [h.name, h.priority, h.links.map((l) => l.name), h.engines]), [['lb-01', 100, ['eth0'], ['haproxy', 'keepalived']], ['lb-02', 90, ['eth0'], ['haproxy', 'keepalived']]]);
    assert.match(plan.lbHosts[1].keepalived?.derived ?? '', /state BACKUP instead of MASTER.*priority 90 instead of 100/);
    // Lines stay where they are: causes point into the file as given.
    assert.equal(plan.lbHosts[1].keepalived?.text.split('\n').length, guide.keepalived.split('\n').length);
  });

  test('the lab sits on the guide\'s subnet: the VIP, the nodes of the server lines, the LB hosts and the client in 192.168.30.0/24', () => {
    assert.equal(plan.endpoint.address, '192.168.30.30');
    assert.equal(plan.endpoint.vip, true);
    assert.deepEqual([plan.endpoint.kubernetesPort, plan.endpoint.talosPort], [6443, 50000]);
    assert.deepEqual(plan.nodes.map((n) => [n.name, n.address, n.kubernetesPort, n.talosPort]), [['cp-01', '192.168.30.31', 6443, 50000], ['cp-02', '192.168.30.32', 6443, 50000], ['cp-03', '192.168.30.33', 6443, 50000]]);
    assert.deepEqual(plan.segments.map((s) => s.cidr), ['192.168.30.0/24']);
    const used = [plan.endpoint.address, ...plan.nodes.map((n) => n.address), ...plan.lbHosts.map((h) => h.address), plan.client.address];
    assert.equal(new Set(used).size, used.length, 'every address once');
    assert.equal(plan.router, undefined);
  });

  test('kube-apiserver as Talos runs it (the files balance port 50000): anonymous auth off; the idle timeouts from the timeout lines', () => {
    assert.equal(plan.apiserver.anonymousAuth, false);
    assert.deepEqual(plan.timing.idleTimeouts.map((t) => [t.what, t.from.line]), [['timeout client 30s', lineOf(guide.haproxy, /timeout client/)], ['timeout server 30s', lineOf(guide.haproxy, /timeout server/)]]);
    assert.equal(plan.timing.idleMs, 32_000, 'watches idle just past the shortest timeout');
    assert.deepEqual(plan.steps.map((s) => s.name), ['baseline', 'idle', 'node-reboot', 'node-crash', 'node-blackhole', 'api-unready', 'lb-engine-crash', 'lb-host-crash', 'lb-link-cut', 'reload']);
  });

  test('--dry-run prints it', () => {
    const text = formatPlan(plan);
    assert.match(text, /LB host +lb-02 +192\.168\.30\.12 +eth0: haproxy haproxy\.cfg, keepalived keepalived\.conf \(the second host its comments describe\), priority 90/);
    assert.match(text, /anonymous auth off/);
  });
});

describe('files render writes for the same cluster, and serve with the spec', () => {
  const loaded = parseSpec(SAME_CLUSTER_SPEC, 'endpoint.yaml');
  assert.ok(loaded.spec);
  const context = { version: 'test', specName: 'endpoint.yaml' };
  const files = [...haproxyRenderer.render(loaded.spec, context), ...keepalivedRenderer.render(loaded.spec, context)].map((f) => ({ path: f.path, text: f.contents }));

  test('LB hosts by router_id at their unicast_src_ip; the check\'s certificate becomes the lab\'s; promises from the spec', () => {
    const plan = planRehearsal(classify(files, { path: 'endpoint.yaml', text: SAME_CLUSTER_SPEC, spec: loaded.spec! }), OPTIONS);
    assert.deepEqual(plan.lbHosts.map((h) => [h.name, h.address, h.priority]), [['lb-01', '192.168.30.11', 100], ['lb-02', '192.168.30.12', 90]]);
    assert.match(plan.lbHosts[0].haproxy?.text ?? '', /crt @CHECK_PEM@/);
    assert.doesNotMatch(plan.lbHosts[0].haproxy?.text ?? '', /\/etc\/haproxy\/check\.pem/);
    assert.match(plan.timing.nodeDetectFrom.text, /healthCheck \(endpoint\.yaml\)/);
    assert.equal(plan.timing.nodeDetectMs, 1000 + 500 + 1000 + 500);
  });

  test('serve: the LB hosts are vip.peers, serve drains through its admin API, the spec\'s certificate files become the lab\'s', () => {
    const plan = planRehearsal(classify([], { path: 'endpoint.yaml', text: SAME_CLUSTER_SPEC, spec: loaded.spec! }), { ...OPTIONS, serve: true });
    assert.deepEqual(plan.lbHosts.map((h) => [h.name, h.address, h.engines]), [['lb-01', '192.168.30.11', ['serve']], ['lb-02', '192.168.30.12', ['serve']]]);
    assert.equal(plan.serveAdmin?.url, 'http://127.0.0.1:8404');
    assert.match(plan.serveSpec?.text ?? '', /certFile: "?@CHECK_CERT@/);
  });
});

describe('what the plan reads from the files', () => {
  const haproxy = 'defaults\n  mode tcp\nfrontend api\n  bind :6443\n  default_backend api\nbackend api\n  server a 10.0.0.31:6443 check\n  server b 10.0.0.32:6443 check\n';
  test('LB hosts and nodes on different subnets: a router joins them', () => {
    const keepalived = 'vrrp_instance VI {\n  interface ens18\n  virtual_router_id 7\n  priority 100\n  unicast_src_ip 192.168.5.11\n  virtual_ipaddress {\n    192.168.5.10/24\n  }\n}\n';
    const plan = planRehearsal(classify([{ path: 'haproxy.cfg', text: haproxy }, { path: 'keepalived.conf', text: keepalived }]), OPTIONS);
    assert.deepEqual(plan.segments.map((s) => s.cidr).sort(), ['10.0.0.0/24', '192.168.5.0/24']);
    assert.ok(plan.router);
    assert.deepEqual(plan.lbHosts[0].links.map((l) => [l.name, l.addresses]), [['ens18', ['192.168.5.11/24']]]);
  });

  test('a kubeadm config: anonymous auth as it says, its shutdown delay', () => {
    const kubeadm = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    - { name: anonymous-auth, value: "false" }\n    - { name: shutdown-delay-duration, value: 1m30s }\n';
    const plan = planRehearsal(classify([{ path: 'haproxy.cfg', text: haproxy }, { path: 'kubeadm.yaml', text: kubeadm }]), OPTIONS);
    assert.equal(plan.apiserver.anonymousAuth, false);
    assert.equal(plan.apiserver.shutdownDelayMs, 90_000);
    assert.match(plan.apiserver.shutdownDelayFrom.text, /kubeadm\.yaml/);
  });

  test('a script a keepalived.conf names by path is taken from the files given, by name', () => {
    const keepalived = 'vrrp_script chk {\n  script "/etc/keepalived/check_apiserver.sh"\n}\nvrrp_instance VI {\n  interface eth0\n  priority 100\n  virtual_ipaddress {\n    10.0.0.10/24\n  }\n  track_script {\n    chk\n  }\n}\n';
    const plan = planRehearsal(classify([{ path: 'haproxy.cfg', text: haproxy }, { path: 'keepalived.conf', text: keepalived }, { path: 'scripts/check_apiserver.sh', text: '#!/bin/sh\nexit 0\n', mode: 0o755 }]), OPTIONS);
    assert.deepEqual(plan.scripts.map((s) => [s.name, s.mode]), [['check_apiserver.sh', 0o755]]);
    assert.match(plan.lbHosts[0].keepalived?.text ?? '', /script "@FILE:check_apiserver\.sh\|\/etc\/keepalived\/check_apiserver\.sh@"/);
  });

  test('usage errors: both --serve and files, nothing to rehearse, a server that is a DNS name', () => {
    const spec = parseSpec(SAME_CLUSTER_SPEC, 'endpoint.yaml').spec!;
    const fail = (run: () => unknown, message: RegExp) => assert.throws(run, (e: unknown) => e instanceof UserError && message.test(e.message) && e.exitCode === 2 && Boolean(e.hint));
    fail(() => planRehearsal(classify([{ path: 'haproxy.cfg', text: haproxy }], { path: 'e.yaml', text: '', spec }), { ...OPTIONS, serve: true }), /--serve rehearses the built-in balancer/);
    fail(() => planRehearsal(classify([]), OPTIONS), /nothing to rehearse/);
    fail(() => planRehearsal(classify([{ path: 'haproxy.cfg', text: haproxy.replace('10.0.0.31', 'cp1.example.com') }]), OPTIONS), /haproxy\.cfg:7: server a is at "cp1\.example\.com:6443", not an IPv4 address/);
  });
});

test('deriveSecondary puts in the values the comments name and changes nothing else', () => {
  const word = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('state', 'priority', 'advert_int'), word, word, fc.boolean()), { minLength: 1, maxLength: 8 }), (rows) => {
    const lines = rows.map(([keyword, value, other, comment]) => `  ${keyword} ${value}${comment ? ` # ${other} on secondary` : ''}`);
    const derived = deriveSecondary(lines.join('\n'));
    const expected = rows.filter(([keyword, , , comment]) => comment && keyword !== 'advert_int').length;
    if (expected === 0) return derived === undefined;
    const out = derived!.text.split('\n');
    return out.length === lines.length && rows.every(([keyword, value, other, comment], i) => (comment && keyword !== 'advert_int' ? out[i].startsWith(`  ${keyword} ${other} `) : out[i] === lines[i] && value.length > 0));
  }));
});

test('Go durations as kube-apiserver flags take them', () => {
  assert.deepEqual(['70s', '1m30s', '500ms', '1h', '0', 'soon'].map(goDurationMs), [70_000, 90_000, 500, 3_600_000, 0, undefined]);
});

describe('the command line', () => {
  const run = async (argv: string[]) => {
    let stdout = '';
    const sink = new Writable({ write(chunk, _e, cb) { stdout += String(chunk); cb(); } });
    try {
      return { code: await runProgram(argv, { stdout: sink, stderr: sink }), stdout };
    } catch (error) {
      assert.ok(error instanceof UserError, String(error));
      return { code: error.exitCode, stdout, message: error.message, hint: error.hint };
    }
  };
  const guide = join(ROOT, 'test/fixtures/doctor/bad/guide-haproxy.cfg');

  test('--dry-run prints the plan and builds nothing (no root needed); --json gives its keys', async () => {
    const text = await run(['rehearse', guide, '--dry-run']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^rehearsal of .*guide-haproxy\.cfg\n {2}endpoint +192\.168\.30\.\d+ on 6443 \(Kubernetes API\), 50000 \(Talos API\)/);
    const json = JSON.parse((await run(['rehearse', guide, '--dry-run', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['mode', 'endpoint', 'nodes', 'lbHosts', 'apiserver', 'promises', 'plannedSteps', 'notes']);
  });

  test('usage errors: an unknown step, a missing file, --serve without a spec — exit 2 with a fix', async () => {
    for (const [argv, message] of [
      [['rehearse', guide, '--steps', 'baseline,reboot', '--dry-run'], /--steps "baseline,reboot": no step reboot/],
      [['rehearse', '/nonexistent/haproxy.cfg', '--dry-run'], /cannot read \/nonexistent\/haproxy\.cfg: no such file/],
      [['rehearse', '--serve', '-c', '/nonexistent/endpoint.yaml', '--dry-run'], /cannot read the spec \/nonexistent\/endpoint\.yaml/],
      [['rehearse', guide, '--idle', 'long', '--dry-run'], /--idle "long" is not a duration/],
    ] as const) {
      const result = await run([...argv]);
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(result.message ?? '', message);
      assert.ok(result.hint);
    }
  });
});
