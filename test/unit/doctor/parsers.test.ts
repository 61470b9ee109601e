import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionAtLeast } from '../../../src/doctor/context.js';
import { detectKind } from '../../../src/doctor/detect.js';
import { effective, haproxyTimeMs, parseHaproxy, servers, splitWords } from '../../../src/doctor/parsers/haproxy.js';
import { checkPort, checksWithSsl, serverSetting } from '../../../src/doctor/rules/haproxy/backends.js';
import { parseKeepalived } from '../../../src/doctor/parsers/keepalived.js';
import { attributeLine, blockLine, collectVariables, parseTerraform, resolve } from '../../../src/doctor/parsers/terraform.js';
import { parseYamlDocuments } from '../../../src/doctor/parsers/yaml-documents.js';
import { runDoctor } from '../../../src/doctor/run.js';

test('haproxy words: quotes, escapes and comments', () => {
  assert.deepEqual(splitWords('  option httpchk GET /readyz  # check it'), { words: ['option', 'httpchk', 'GET', '/readyz'], comment: 'check it' });
  assert.deepEqual(splitWords('  http-check send hdr Host "a b"'), { words: ['http-check', 'send', 'hdr', 'Host', 'a b'] });
  assert.deepEqual(splitWords('log-format a\\ b'), { words: ['log-format', 'a b'] });
});

test('haproxy sections keep line numbers and inherit from the last defaults', () => {
  const config = parseHaproxy('global\n  maxconn 10\ndefaults\n  timeout client 30s\nbackend a\n  server s 1.2.3.4:6443 check\ndefaults\n  timeout client 1h\nbackend b\n');
  assert.deepEqual(config.sections.map((s) => [s.kind, s.name, s.line]), [['global', '', 1], ['defaults', '', 3], ['backend', 'a', 5], ['defaults', '', 7], ['backend', 'b', 9]]);
  assert.equal(effective(config, config.sections[2], 'timeout', 'client')?.line, 4);
  assert.equal(effective(config, config.sections[4], 'timeout', 'client')?.line, 8);
});

test('haproxy server settings: the server line, then the last default-server line of the section, then defaults', () => {
  // HAProxy applies default-server lines in order, so a later one overrides an earlier one.
  const config = parseHaproxy('defaults\n  default-server inter 5s port 9000\nbackend a\n  default-server check-ssl inter 1s\n  default-server no-check-ssl inter 2s\n  server s 1.2.3.4:6443 check\n  server t 1.2.3.5:6443 check inter 3s check-ssl\n');
  const backend = config.sections[1];
  const [s, t] = servers(backend);
  assert.deepEqual(serverSetting(config, backend, s, 'inter'), { value: '2s', line: 5 });
  assert.deepEqual(serverSetting(config, backend, t, 'inter'), { value: '3s', line: 7 });
  assert.deepEqual(serverSetting(config, backend, s, 'port'), { value: '9000', line: 2 });
  assert.equal(serverSetting(config, backend, s, 'fall'), undefined);
  assert.equal(checksWithSsl(config, backend, s), false);
  assert.equal(checksWithSsl(config, backend, t), true);
  assert.equal(checkPort(config, backend, s), 9000);
});

test('haproxy times', () => {
  const table: Array<[string, number | undefined]> = [['30s', 30_000], ['1m', 60_000], ['500', 500], ['2h', 7_200_000], ['1d', 86_400_000], ['x', undefined]];
  for (const [text, ms] of table) assert.equal(haproxyTimeMs(text), ms, text);
});

test('keepalived blocks nest, with comments and quoted arguments', () => {
  const config = parseKeepalived('vrrp_script chk { script "pidof haproxy"\n weight -2 }\nvrrp_instance VI_1\n{\n  priority 100 # 90 on secondary\n  track_script {\n    chk weight 30\n  }\n}\n');
  const [script, instance] = config.nodes;
  assert.equal(script.keyword, 'vrrp_script');
  assert.deepEqual(script.children.map((c) => [c.keyword, c.args, c.line]), [['script', ['pidof haproxy'], 1], ['weight', ['-2'], 2]]);
  assert.equal(instance.line, 3);
  assert.deepEqual(instance.children.map((c) => c.keyword), ['priority', 'track_script']);
  assert.equal(instance.children[0].comment, '90 on secondary');
  assert.deepEqual(instance.children[1].children[0], { keyword: 'chk', args: ['weight', '30'], line: 7, children: [] });
});

test('terraform: lines of blocks and attributes, variables from defaults and tfvars', async () => {
  const text = 'variable "env" {\n  default = "demo"\n}\n\nresource "aws_lb" "x" {\n  # name = "commented"\n  name = "${var.env}-nlb"\n  tags = { a = "b" }\n  subnet_mapping {\n    name = "inner"\n  }\n}\n';
  const main = await parseTerraform('main.tf', text);
  const start = blockLine(text, 'resource', ['aws_lb', 'x']);
  assert.equal(start, 5);
  assert.equal(attributeLine(text, 5, 'name'), 7);
  assert.equal(attributeLine(text, 5, 'subnet_mapping'), 9);
  assert.equal(attributeLine(text, 5, 'missing'), undefined);
  const vars = await parseTerraform('prod.tfvars', 'env = "production"\n');
  assert.equal(resolve('${var.env}-nlb', collectVariables([main])), 'demo-nlb');
  assert.equal(resolve('${var.env}-nlb', collectVariables([main, vars])), 'production-nlb');
  assert.equal(resolve('${module.net.id}', collectVariables([main])), undefined);
});

test('yaml documents: lines of paths in every document', () => {
  const file = parseYamlDocuments('a: 1\nb:\n  c: [x, y]\n---\nkind: LinkConfig\nname: eth0\n');
  assert.equal(file.documents.length, 2);
  assert.equal(file.documents[0].lineOf(['b', 'c']), 3);
  assert.equal(file.documents[1].lineOf(['name']), 6);
});

test('file kinds by name and content', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['lb/haproxy.cfg', '', 'haproxy'],
    ['x.cfg', 'defaults\n  mode tcp\nfrontend f\n  bind :6443\n', 'haproxy'],
    ['x.conf', 'vrrp_instance VI_1 {\n}\n', 'keepalived'],
    ['nlb.tf', '', 'terraform'],
    ['aws.tfvars', 'a = 1', 'terraform'],
    ['config', 'context: a\ncontexts:\n  a: {}\n', 'talosconfig'],
    ['cp.yaml', 'machine:\n  network: {}\n', 'talos'],
    ['vip.yaml', 'apiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.0.0.1\n', 'talos'],
    // A worker's patch from render talos: only where the cluster is reached.
    ['wk-01.yaml', 'cluster:\n  controlPlane:\n    endpoint: https://10.0.0.1:6443\n', 'talos'],
    ['spec.yaml', 'endpoint: 10.0.0.1\ncontrolPlane: []\n', 'spec'],
    // By name a spec, even a broken one; not a Kubernetes object that happens to be named so.
    ['prod-endpoint.yaml', 'endpoint: [\n', 'spec'],
    ['kube-endpoint.yaml', 'apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: kubernetes\n', 'talos'],
    ['notes.txt', 'hello', undefined],
  ];
  for (const [path, text, kind] of table) assert.equal(detectKind(path, text), kind, path);
});

test('versions compare by number, not by text', () => {
  assert.equal(versionAtLeast('3.10', '3.3'), true);
  assert.equal(versionAtLeast('v1.12.1', '1.12'), true);
  assert.equal(versionAtLeast('1.11.5', '1.12'), false);
});

test('no balance line with the HAProxy version unknown is info, not a warning', async () => {
  const report = await runDoctor([{ path: 'haproxy.cfg', text: 'defaults\n  timeout client 1h\n  timeout server 1h\nbackend talos\n  server a 10.0.0.1:50000 check on-marked-down shutdown-sessions\n' }]);
  assert.deepEqual(report.findings.map((f) => [f.rule, f.severity, f.line]), [['haproxy/balance-default', 'info', 4]]);
});

test('an unknown file and a Terraform syntax error are errors with a line', async () => {
  const report = await runDoctor([{ path: 'notes.txt', text: 'hello' }, { path: 'bad.tf', text: 'resource "aws_lb" "x" {\n  name = "a"\n' }]);
  assert.deepEqual(report.findings.map((f) => [f.file, f.rule, f.severity]), [['bad.tf', 'doctor/syntax', 'error'], ['notes.txt', 'doctor/unknown-file', 'error']]);
  assert.equal(report.findings[0].line, 1);
});

test('durations in messages carry their unit, whatever unit the file used', async () => {
  const text = 'defaults\n  mode tcp\n  timeout connect 5000\n  timeout client 30000\n  timeout server 1h\nlisten api\n  bind :6443\n  balance roundrobin\n  option httpchk GET /readyz\n  default-server check check-ssl verify none inter 2000 on-marked-down shutdown-sessions\n  server a 10.0.0.1:6443\n  server b 10.0.0.2:6443\n  server c 10.0.0.3:6443\n';
  const spec = 'cluster: { name: x }\nendpoint: 10.0.0.9\ncontrolPlane:\n  - { name: a, address: 10.0.0.1 }\n  - { name: b, address: 10.0.0.2 }\n  - { name: c, address: 10.0.0.3 }\nlisteners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane, healthCheck: { type: https } }\n';
  const report = await runDoctor([{ path: 'haproxy.cfg', text }, { path: 'endpoint.yaml', text: spec }]);
  const messages = report.findings.filter((f) => f.file === 'haproxy.cfg').map((f) => `${f.rule}: ${f.message}`);
  assert.ok(messages.includes('haproxy/short-timeouts: timeout client 30000 closes connections idle for 30s'), messages.join('\n'));
  assert.ok(messages.includes('haproxy/drift: listen api check inter: the spec says 10s, this file has 2s'), messages.join('\n'));
  assert.ok(messages.includes('haproxy/drift: timeout connect: the spec says 10s (balancer.connectTimeout), this file has 5s'), messages.join('\n'));
});
