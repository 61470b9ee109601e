import assert from 'node:assert/strict';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDuration, formatDuration } from '../../../src/spec/duration.js';
import { addressKind, isLoopback } from '../../../src/spec/address.js';
import { parseSpec } from '../../../src/spec/load.js';
import { runCli } from '../../helpers/cli.js';

const VALID = `cluster:
  name: rciis
  environment: demo
endpoint: 192.168.30.30
controlPlane:
  - { name: cp-01, address: 192.168.30.31 }
  - { name: cp-02, address: 192.168.30.32 }
  - { name: cp-03, address: 192.168.30.33 }
workers:
  - { name: wk-01, address: 192.168.30.41 }
`;

/** Each case: a spec text, the path the problem must name, a pattern for the message, the line. */
const BAD: Array<{ name: string; text: string; path: string; message: RegExp; line?: number; column?: number }> = [
  { name: 'YAML syntax error', text: 'cluster:\n  name: x\n endpoint: [\n', path: '', message: /mapping|indent|sequence/i, line: 3 },
  { name: 'duplicate YAML key', text: `${VALID}endpoint: 10.0.0.1\n`, path: '', message: /unique/i, line: 11 },
  { name: 'unknown key with did-you-mean', text: VALID.replace('address: 192.168.30.33', 'adress: 192.168.30.33'), path: 'controlPlane[2].adress', message: /unknown key "adress" \(did you mean "address"\?\)/, line: 8 },
  { name: 'unknown top-level key', text: `${VALID}helthCheck: {}\n`, path: 'helthCheck', message: /did you mean "healthCheck"/, line: 11 },
  { name: 'wrong type', text: `${VALID}healthCheck:\n  healthyThreshold: "2"\n`, path: 'healthCheck.healthyThreshold', message: /must be an integer, got string "2"/, line: 12 },
  { name: 'wrong type: list expected', text: VALID.replace(/controlPlane:[\s\S]*?workers:/, 'controlPlane: cp-01\nworkers:'), path: 'controlPlane', message: /must be an array/ },
  { name: 'duplicate node name', text: VALID.replace('name: cp-02', 'name: cp-01'), path: 'controlPlane[1].name', message: /already used by controlPlane\[0\]\.name/, line: 7 },
  { name: 'duplicate listener port', text: `${VALID}listeners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }\n  - { name: talos, port: 6443, targetPort: 50000, targets: controlPlane }\n`, path: 'listeners[1].port', message: /port 6443 is already used/, line: 13 },
  { name: 'duplicate listener name', text: `${VALID}listeners:\n  - { name: talos, port: 6443, targetPort: 6443, targets: controlPlane }\n  - { name: talos, port: 50000, targetPort: 50000, targets: controlPlane }\n`, path: 'listeners[1].name', message: /listener name "talos" is already used/ },
  { name: 'bad IPv4 address', text: VALID.replace('192.168.30.32', '192.168.30.320'), path: 'controlPlane[1].address', message: /not a valid address/ },
  { name: 'bad endpoint', text: VALID.replace('endpoint: 192.168.30.30', 'endpoint: "not a host!"'), path: 'endpoint', message: /not a valid address/ },
  { name: 'port out of range', text: `${VALID}listeners:\n  - { name: kubernetes, port: 70000, targetPort: 6443, targets: controlPlane }\n`, path: 'listeners[0].port', message: /70000 is out of range/ },
  { name: 'threshold out of range', text: `${VALID}healthCheck:\n  unhealthyThreshold: 0\n`, path: 'healthCheck.unhealthyThreshold', message: /0 is out of range/ },
  { name: 'threshold too high', text: `${VALID}healthCheck:\n  healthyThreshold: 11\n`, path: 'healthCheck.healthyThreshold', message: /11 is out of range/ },
  { name: 'malformed duration', text: `${VALID}deregistrationDelay: 30\n`, path: 'deregistrationDelay', message: /must be a string/ },
  { name: 'duration with bad unit', text: `${VALID}healthCheck:\n  interval: 10sec\n`, path: 'healthCheck.interval', message: /"10sec" is not a duration/ },
  { name: 'duration out of range', text: `${VALID}deregistrationDelay: 2h\n`, path: 'deregistrationDelay', message: /2h is out of range/ },
  { name: 'timeout not below interval', text: `${VALID}healthCheck:\n  interval: 5s\n  timeout: 5s\n`, path: 'healthCheck.timeout', message: /timeout 5s is not below interval 5s/ },
  { name: 'listener override: timeout not below inherited interval', text: `${VALID}healthCheck:\n  interval: 3s\n  timeout: 1s\nlisteners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane, healthCheck: { timeout: 4s } }\n`, path: 'listeners[0].healthCheck.timeout', message: /timeout 4s is not below interval 3s/ },
  { name: 'listener targets workers when none are defined', text: `${VALID.replace(/workers:[\s\S]*$/, '')}listeners:\n  - { name: talos-workers, port: 50001, targetPort: 50000, targets: workers }\n`, path: 'listeners[0].targets', message: /targets workers, but no workers are defined/ },
  { name: 'bad enum', text: `${VALID}healthCheck:\n  type: http\n`, path: 'healthCheck.type', message: /"http" is not allowed/ },
  { name: 'missing required key', text: VALID.replace('endpoint: 192.168.30.30\n', ''), path: 'endpoint', message: /"endpoint" is required/ },
  { name: 'admin off loopback without token', text: `${VALID}balancer:\n  admin: 0.0.0.0:8404\n`, path: 'balancer.admin', message: /no token/ },
  { name: 'preserveClientIp in proxy mode', text: `${VALID}balancer:\n  preserveClientIp: true\n`, path: 'balancer.preserveClientIp', message: /kernel only/, line: 12 },
  { name: 'leastconn in kernel mode', text: `${VALID}balancer:\n  mode: kernel\n  balance: leastconn\n`, path: 'balancer.balance', message: /leastconn is not available with balancer.mode: kernel/, line: 13 },
  { name: 'listener leastconn in kernel mode', text: `${VALID}balancer: { mode: kernel }\nlisteners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane, balance: leastconn }\n`, path: 'listeners[0].balance', message: /use roundrobin or source/ },
  { name: 'DNS name as a server in kernel mode', text: `${VALID.replace('192.168.30.33', 'cp-03.example.com')}balancer: { mode: kernel }\n`, path: 'controlPlane[2].address', message: /kernel forwards to addresses/, line: 8 },
  { name: 'DNS name as bind in kernel mode', text: `${VALID}balancer: { mode: kernel, bind: lb.example.com }\n`, path: 'balancer.bind', message: /matches packets by address/ },
  { name: 'unknown balancer mode', text: `${VALID}balancer: { mode: ipvs }\n`, path: 'balancer.mode', message: /"ipvs" is not allowed/ },
  { name: 'VIP equal to a node address', text: `${VALID}vip:\n  address: 192.168.30.31\n`, path: 'vip.address', message: /is the address of controlPlane\[0\]/ },
];

for (const bad of BAD) {
  test(`validate: ${bad.name}`, () => {
    const result = parseSpec(bad.text, 'endpoint.yaml');
    assert.equal(result.spec, undefined, 'spec should be invalid');
    const problem = result.problems.find((p) => p.path === bad.path && bad.message.test(p.message));
    assert.ok(problem, `no problem at ${bad.path} matching ${bad.message}; got ${JSON.stringify(result.problems, null, 1)}`);
    assert.ok(problem.hint && problem.hint.length > 5, 'every problem says how to fix it');
    if (bad.line !== undefined) assert.equal(problem.line, bad.line);
    assert.ok(problem.line === undefined || problem.column !== undefined);
  });
}

test('validate CLI: exit 2, every problem on its own line with file:line:col, no stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-validate-'));
  const file = join(dir, 'endpoint.yaml');
  await writeFile(file, `${VALID.replace('name: cp-02', 'name: cp-01').replace('192.168.30.33', '192.168.30.330')}healthCheck:\n  interval: 5s\n  timeout: 6s\n`);
  const result = await runCli(['validate', '-c', file]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, new RegExp(`${file}:7:\\d+: error: controlPlane\\[1\\]\\.name`));
  assert.match(result.stderr, /controlPlane\[2\]\.address: "192\.168\.30\.330" is not a valid address/);
  assert.match(result.stderr, /healthCheck\.timeout: timeout 6s is not below interval 5s/);
  assert.match(result.stderr, /fix: /);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  const json = await runCli(['validate', '-c', file, '--json']);
  assert.equal(json.code, 2);
  const parsed = JSON.parse(json.stdout) as { valid: boolean; problems: Array<{ path: string }> };
  assert.equal(parsed.valid, false);
  assert.ok(parsed.problems.length >= 3);
  const missing = await runCli(['validate', '-c', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*nope\.yaml: no such file/);
});

test('validate CLI: the example spec is valid (exit 0)', async () => {
  const result = await runCli(['validate', '-c', 'examples/endpoint.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /valid — 3 listener\(s\) \(kubernetes:6443, talos:50000, talos-workers:50001\)/);
});

test('defaults are the guide\'s: 10s/5s, 2/2, 30s, listeners 6443, 50000 and 50001 → 50000 only with workers', () => {
  const { spec } = parseSpec(VALID);
  assert.ok(spec);
  assert.deepEqual(spec.listeners.map((l) => [l.name, l.port, l.targetPort, l.targets]), [
    ['kubernetes', 6443, 6443, 'controlPlane'], ['talos', 50000, 50000, 'controlPlane'], ['talos-workers', 50001, 50000, 'workers'],
  ]);
  assert.deepEqual([spec.healthCheck.type, spec.healthCheck.intervalMs, spec.healthCheck.timeoutMs, spec.healthCheck.healthyThreshold, spec.healthCheck.unhealthyThreshold], ['tcp', 10_000, 5000, 2, 2]);
  assert.equal(spec.deregistrationDelayMs, 30_000);
  assert.equal(spec.balancer.connectTimeoutMs, 10_000);
  assert.equal(spec.balancer.admin.host, '127.0.0.1');
  assert.equal(spec.balancer.admin.port, 8404);
  const noWorkers = parseSpec(VALID.replace(/workers:[\s\S]*$/, '')).spec!;
  assert.deepEqual(noWorkers.listeners.map((l) => l.name), ['kubernetes', 'talos']);
  assert.deepEqual(spec.listeners[2].servers.map((s) => `${s.name}@${s.address}:${s.port}`), ['wk-01@192.168.30.41:50000']);
});

test('a listener override merges with the top-level health check', () => {
  const { spec } = parseSpec(`${VALID}healthCheck: { interval: 4s, timeout: 1s }\nlisteners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane, healthCheck: { type: https, expectStatuses: [200, 401] } }\n`);
  assert.ok(spec);
  const check = spec.listeners[0].healthCheck;
  assert.deepEqual([check.type, check.intervalMs, check.timeoutMs, check.path, check.expectStatuses], ['https', 4000, 1000, '/readyz', [200, 401]]);
});

test('durations and addresses', () => {
  assert.deepEqual(['500ms', '10s', '1m', '1m30s', '2h'].map(parseDuration), [500, 10_000, 60_000, 90_000, 7_200_000]);
  assert.deepEqual(['10', 's', '1.5s', '-1s', '10 s'].map(parseDuration), [undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual([500, 10_000, 90_000].map(formatDuration), ['500ms', '10s', '1m30s']);
  assert.deepEqual(['192.168.30.31', 'fd00::31', 'cp-01.example.com', 'api.rciis.', 'localhost'].map(addressKind), ['ipv4', 'ipv6', 'dns', 'dns', 'dns']);
  assert.deepEqual(['192.168.30.300', 'a b', '-bad.example', '', 'x'.repeat(64)].map(addressKind), [undefined, undefined, undefined, undefined, undefined]);
});

test('isLoopback accepts loopback addresses only, never a name that starts with 127.', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.255.0.9', true], ['::1', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true], ['localhost', true], ['LOCALHOST', true],
    ['127.attacker.example', false], ['127.mgmt.example.com', false], ['127.0.0.1.nip.io', false], ['128.0.0.1', false], ['::2', false], ['10.0.0.1', false], ['localhost.example', false],
  ];
  for (const [host, expected] of table) assert.equal(isLoopback(host), expected, host);
});

test('an admin address on a name that starts with 127. needs a token like any other name', () => {
  const result = parseSpec(`${VALID}balancer:\n  admin: 127.mgmt.example.com:8404\n`);
  assert.ok(result.problems.some((p) => p.path === 'balancer.admin' && /has no token/.test(p.message)), JSON.stringify(result.problems));
});

test('a token from the environment needs the same length as one in the spec', () => {
  const saved = { admin: process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN, vip: process.env.CLUSTER_ENDPOINT_VIP_KEY };
  try {
    process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN = 'x';
    process.env.CLUSTER_ENDPOINT_VIP_KEY = 'short';
    const result = parseSpec(`${VALID}vip:\n  address: 192.168.30.30\n`);
    assert.ok(result.problems.some((p) => p.path === 'balancer.adminToken' && /1 character\(s\); an admin token needs at least 16/.test(p.message)), JSON.stringify(result.problems));
    assert.ok(result.problems.some((p) => p.path === 'vip.authKey' && /at least 8/.test(p.message)));
    process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN = 'x'.repeat(16);
    process.env.CLUSTER_ENDPOINT_VIP_KEY = 'k'.repeat(8);
    assert.deepEqual(parseSpec(`${VALID}vip:\n  address: 192.168.30.30\n`).problems.filter((p) => p.severity === 'error'), []);
    // The spec's own token wins and is checked by the schema (minLength 16).
    process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN = 'x';
    assert.deepEqual(parseSpec(`${VALID}balancer:\n  adminToken: ${'t'.repeat(16)}\n`).problems.filter((p) => p.path === 'balancer.adminToken'), []);
  } finally {
    for (const [key, value] of [['CLUSTER_ENDPOINT_ADMIN_TOKEN', saved.admin], ['CLUSTER_ENDPOINT_VIP_KEY', saved.vip]] as const) {
      if (value === undefined) delete process.env[key]; else process.env[key] = value;
    }
  }
});

test('kernel mode with preserveClientIp: a warning that says what the servers\' return route must be', () => {
  const result = parseSpec(`${VALID}balancer:\n  mode: kernel\n  preserveClientIp: true\n`);
  assert.ok(result.spec, 'a warning, not an error');
  const warning = result.problems.find((p) => p.path === 'balancer.preserveClientIp');
  assert.equal(warning?.severity, 'warning');
  assert.match(warning?.hint ?? '', /ip route get .* default gateway/);
  assert.deepEqual(parseSpec(`${VALID}balancer:\n  mode: kernel\n  preserveClientIp: false\n`).problems, []);
});
