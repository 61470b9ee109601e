// One address, any spelling: the spec's rules and doctor's compare addresses by value, so an IPv6 address written
// with its zeros (fd00:0:0:0:0:0:0:a) is the same host as its compressed form (fd00::a).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runDoctor } from '../../../src/doctor/run.js';
import { parseSpec } from '../../../src/spec/load.js';

/** Two spellings of one IPv6 address: every group written out with its zeros, and the compressed form. */
const twoSpellings = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .filter((g) => g[0] !== 0 && g.slice(1).some((x) => x === 0))
  .map((g) => {
    const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':').toUpperCase();
    const compressed = new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1);
    return { full, compressed };
  });

const spec = (endpoint: string, nodes: string[], vip?: string) => [
  'cluster: { name: c1 }',
  `endpoint: "${endpoint}"`,
  'controlPlane:',
  ...nodes.map((a, i) => `  - { name: cp-0${i + 1}, address: "${a}" }`),
  ...(vip ? ['vip:', `  address: "${vip}"`, '  interface: eth0', '  peers:', '    - { name: lb-01, address: "fd99::1", priority: 150 }', '    - { name: lb-02, address: "fd99::2", priority: 100 }'] : []),
].join('\n');

test('a VIP that is a node\'s address is refused in any spelling', () => {
  fc.assert(fc.property(twoSpellings, ({ full, compressed }) => {
    const result = parseSpec(spec('cp.example.net', [compressed, 'fd99::31', 'fd99::32'], full), 'endpoint.yaml');
    assert.ok(result.problems.some((p) => p.path === 'vip.address' && /is the address of controlPlane\[0\]/.test(p.message)), `${full} is ${compressed}: ${JSON.stringify(result.problems)}`);
  }), { numRuns: 100 });
});

test('doctor: an endpoint that is a node\'s own address is found in any spelling', async () => {
  await fc.assert(fc.asyncProperty(twoSpellings, async ({ full, compressed }) => {
    const report = await runDoctor([{ path: 'endpoint.yaml', text: spec(full, [compressed, 'fd99::31', 'fd99::32']) }]);
    assert.ok(report.findings.some((f) => f.rule === 'spec/endpoint-is-node'), `${full} is ${compressed}: ${report.findings.map((f) => f.rule).join(', ')}`);
  }), { numRuns: 50 });
});
