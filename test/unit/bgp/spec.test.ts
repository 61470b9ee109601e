import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '../../../src/spec/load.js';

const BASE = `cluster: { name: rciis }
endpoint: 10.96.0.10
controlPlane:
  - { name: cp-01, address: 192.168.30.31 }
`;
const BGP = `bgp:
  localAsn: 65010
  peers:
    - { name: tor-1, address: 10.0.1.1, asn: 65000 }
`;

test('bgp: the contract names parse, and the defaults are filled in', () => {
  const result = parseSpec(`${BASE}${BGP}`, 'endpoint.yaml');
  assert.ok(result.spec, JSON.stringify(result.problems));
  assert.deepEqual(result.spec.bgp, {
    localAsn: 65010, routerId: 'auto', peers: [{ name: 'tor-1', address: '10.0.1.1', asn: 65000, port: 179 }],
    bfd: true, bfdIntervalMs: 100, bfdMultiplier: 3, holdTimeMs: 9000, withdrawDelayMs: 2000, runDirectory: '/run/cluster-endpoint/bgp',
  });
  const full = parseSpec(`${BASE}bgp:\n  localAsn: 4200000001\n  routerId: 10.0.1.11\n  bfd: false\n  bfdInterval: 300ms\n  bfdMultiplier: 5\n  holdTime: 30s\n  withdrawDelay: 5s\n  runDirectory: /run/ce\n  peers:\n    - { name: tor-1, address: 10.0.1.1, asn: 65000, port: 1179 }\n`, 'endpoint.yaml');
  assert.ok(full.spec, JSON.stringify(full.problems));
  assert.equal(full.spec.bgp?.holdTimeMs, 30_000);
  assert.equal(full.spec.bgp?.peers[0].port, 1179);
  assert.ok(full.problems.some((p) => p.path === 'bgp.bfd' && p.severity === 'warning'), 'bfd: false warns');
});

const BAD: Array<{ name: string; text: string; path: string; message: RegExp }> = [
  { name: 'endpoint is a name', text: `${BASE.replace('10.96.0.10', 'api.example.com')}${BGP}`, path: 'endpoint', message: /must be an address/ },
  { name: 'peer is a name', text: `${BASE}${BGP.replace('10.0.1.1', 'tor-1.example.com')}`, path: 'bgp.peers[0].address', message: /not an IP address/ },
  { name: 'peer of the other family', text: `${BASE}${BGP.replace('10.0.1.1', 'fd00::1')}`, path: 'bgp.peers[0].address', message: /IPv6 and the endpoint IPv4/ },
  { name: 'duplicate peer', text: `${BASE}${BGP}    - { name: tor-1, address: 10.0.1.1, asn: 65000 }\n`, path: 'bgp.peers[1].name', message: /used twice/ },
  { name: 'router id not IPv4', text: `${BASE}${BGP}  routerId: lb-01\n`, path: 'bgp.routerId', message: /neither auto nor an IPv4/ },
  { name: 'router id is the endpoint', text: `${BASE}${BGP}  routerId: 10.96.0.10\n`, path: 'bgp.routerId', message: /every LB host shares/ },
  { name: 'hold time below 3s', text: `${BASE}${BGP}  holdTime: 2s\n`, path: 'bgp.holdTime', message: /out of range/ },
  { name: 'hold time not whole seconds', text: `${BASE}${BGP}  holdTime: 4500ms\n`, path: 'bgp.holdTime', message: /whole seconds/ },
  { name: 'AS_TRANS', text: `${BASE}${BGP.replace('65010', '23456')}`, path: 'bgp.localAsn', message: /AS_TRANS/ },
  { name: 'ASN out of range', text: `${BASE}${BGP.replace('65010', '0')}`, path: 'bgp.localAsn', message: /out of range/ },
  { name: 'no peers', text: `${BASE}bgp: { localAsn: 65010, peers: [] }\n`, path: 'bgp.peers', message: /at least 1|fewer than 1|minItems|1 item/ },
  { name: 'with a vip', text: `${BASE}${BGP}vip: { address: 192.168.30.30 }\n`, path: 'bgp', message: /one host holding it on its segment/ },
  { name: 'bind elsewhere', text: `${BASE}${BGP}balancer: { bind: 192.168.30.5 }\n`, path: 'balancer.bind', message: /must accept the endpoint/ },
  { name: 'unknown key', text: `${BASE}${BGP}  bfdMultipler: 3\n`, path: 'bgp.bfdMultipler', message: /did you mean "bfdMultiplier"/ },
];

for (const bad of BAD) {
  test(`bgp spec: ${bad.name}`, () => {
    const result = parseSpec(bad.text, 'endpoint.yaml');
    assert.equal(result.spec, undefined, 'the spec should be invalid');
    const problem = result.problems.find((p) => p.path === bad.path && p.severity === 'error');
    assert.ok(problem, `no error at ${bad.path}: ${JSON.stringify(result.problems)}`);
    assert.match(problem.message, bad.message);
    assert.ok(problem.hint, 'every problem says how to fix it');
  });
}

test('bgp spec: bind to the endpoint or every address is accepted', () => {
  for (const bind of ['0.0.0.0', '10.96.0.10']) {
    const result = parseSpec(`${BASE}${BGP}balancer: { bind: ${bind} }\n`, 'endpoint.yaml');
    assert.ok(result.spec, `${bind}: ${JSON.stringify(result.problems)}`);
  }
});
