// haproxy/drift compares the servers of a haproxy.cfg with the spec's nodes whatever way an address is written:
// our own rendered file for an IPv6 spec ("[addr]:port") is not drift, nor is HAProxy's bare "addr:port".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runDoctor } from '../../../src/doctor/run.js';
import { haproxyRenderer } from '../../../src/render/haproxy/index.js';
import { parseSpec } from '../../../src/spec/load.js';

const CONTEXT = { version: '0.0.0-test', specName: 'endpoint.yaml' };

function specText(addresses: string[], port: number): string {
  return [
    'cluster: { name: x }',
    `endpoint: "${addresses[0]}"`,
    'controlPlane:',
    ...addresses.map((a, i) => `  - { name: cp-${i + 1}, address: "${a}" }`),
    'listeners:',
    `  - { name: kubernetes, port: 6443, targetPort: ${port}, targets: controlPlane }`,
  ].join('\n');
}

async function drift(spec: string, haproxyCfg: string): Promise<string[]> {
  const report = await runDoctor([{ path: 'endpoint.yaml', text: spec }, { path: 'haproxy.cfg', text: haproxyCfg }]);
  return report.findings.filter((f) => f.rule === 'haproxy/drift').map((f) => `${f.line}: ${f.message}`);
}

const address = fc.oneof(fc.ipV4(), fc.ipV6());

test('our own haproxy.cfg is never drift, for IPv4 and IPv6 nodes alike (generated)', async () => {
  await fc.assert(fc.asyncProperty(fc.uniqueArray(address, { minLength: 1, maxLength: 4, selector: (a) => a.toLowerCase() }), fc.integer({ min: 1, max: 65535 }), async (addresses, port) => {
    const text = specText(addresses, port);
    const { spec } = parseSpec(text, 'endpoint.yaml');
    assert.ok(spec, text);
    const [file] = haproxyRenderer.render(spec, CONTEXT);
    assert.deepEqual(await drift(text, file.contents), []);
  }), { numRuns: 40, seed: 19 });
});

test('an IPv6 server is the same server in every spelling HAProxy reads, and a different one is drift', async () => {
  const spec = specText(['2001:db8:0:0::10', 'fd00::a:b'], 6443);
  const cfg = (servers: string[]) => ['defaults', '  mode tcp', 'frontend kubernetes', '  bind :6443', '  default_backend kubernetes', 'backend kubernetes', ...servers.map((s, i) => `  server cp-${i + 1} ${s} check inter 10s fall 2`), ''].join('\n');
  for (const spelling of [
    ['[2001:db8::10]:6443', '[fd00::a:b]:6443'],
    ['2001:db8::10:6443', 'fd00::a:b:6443'],
    ['ipv6@2001:db8::10:6443', 'ipv6@[fd00::a:b]:6443'],
    ['[2001:DB8:0:0:0:0:0:10]:6443', '[FD00:0::A:B]:6443'],
  ]) assert.deepEqual(await drift(spec, cfg(spelling)), [], spelling.join(' '));
  const moved = await drift(spec, cfg(['[2001:db8::11]:6443', '[fd00::a:b]:6443']));
  assert.equal(moved.length, 1);
  assert.match(moved[0], /servers: the spec says 2001:db8::10:6443, fd00::a:b:6443, this file has 2001:db8::11:6443, fd00::a:b:6443/);
  assert.equal((await drift(spec, cfg(['[2001:db8::10]:7443', '[fd00::a:b]:6443']))).length, 1, 'another port is drift');
});
