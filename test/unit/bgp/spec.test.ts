import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src/errors.js';
import { bgpForHost, selectBgpHost } from '../../../src/spec/hosts.js';
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
    localAsn: 65010, routerId: 'auto', peers: [{ name: 'tor-1', address: '10.0.1.1', asn: 65000, port: 179, bfd: true, bfdIntervalMs: 100, bfdMultiplier: 3 }],
    hosts: [], addresses: ['10.96.0.10'], bfd: true, bfdIntervalMs: 100, bfdMultiplier: 3, holdTimeMs: 9000, withdrawDelayMs: 2000, runDirectory: '/run/cluster-endpoint/bgp',
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

// An IPv6-only fleet, one LB host per rack, each peering with its ToRs over link-local addresses (issue 19 items 6, 11).
const V6 = `cluster: { name: routed6 }
endpoint: "fd00:96::10"
controlPlane:
  - { name: cp-01, address: "fd00:1::11" }
balancer: { bind: "::" }
`;
const V6_HOSTS = `bgp:
  localAsn: 4200000010
  hosts:
    - name: lb-r1
      routerId: 10.255.0.1
      peers:
        - { name: tor-r1a, address: "fe80::1%eth0", asn: 4200000001 }
        - { name: tor-r1b, address: "fe80::2%bond0.408", asn: 4200000001 }
    - name: lb-r2
      routerId: 10.255.0.2
      peers:
        - { name: tor-r2a, address: "fe80::1%ens18", asn: 4200000002 }
`;

const DUAL = `cluster: { name: dual }
endpoint: api.dual.example
controlPlane:
  - { name: cp-01, address: 10.1.1.11 }
balancer: { bind: "::" }
bgp:
  localAsn: 65010
  addresses: [10.96.0.10, "fd00:96::10"]
  peers:
    - { name: tor-1, address: 10.0.1.1, asn: 65000 }
    - { name: tor-1v6, address: "fd00:1::1", asn: 65000 }
`;

const SESSION = `${BASE}bgp:
  localAsn: 65010
  peers:
    - { name: tor-1, address: 10.0.1.1, asn: 65000, passwordFile: /etc/cluster-endpoint/tor-1.md5, bfdInterval: 300ms, bfdMultiplier: 5 }
    - { name: core, address: 10.9.9.9, asn: 65000, multihop: 3, sourceAddress: 10.0.1.2, bfd: false }
`;

const MORE_BAD: Array<{ name: string; text: string; path: string; message: RegExp; hint?: RegExp }> = [
  { name: 'router id auto (the default) on an IPv6-only spec', text: `${V6}bgp:\n  localAsn: 65010\n  peers:\n    - { name: spine, address: "fd00:ff::1", asn: 65000 }\n`, path: 'bgp.routerId', message: /auto \(the default\) takes this host's lowest IPv4 address, and the endpoint and peers are IPv6 only/, hint: /bgp\.hosts/ },
  { name: 'router id auto written on an IPv6-only spec', text: `${V6}bgp:\n  localAsn: 65010\n  routerId: auto\n  peers:\n    - { name: spine, address: "fd00:ff::1", asn: 65000 }\n`, path: 'bgp.routerId', message: /IPv6 only/ },
  { name: 'an IPv6-only host without a router id', text: `${V6}${V6_HOSTS.replace('      routerId: 10.255.0.2\n', '')}`, path: 'bgp.hosts[1].routerId', message: /host lb-r2 has router id auto/ },
  { name: 'a link-local peer without its interface', text: `${V6}${V6_HOSTS.replace('fe80::1%eth0', 'fe80::1')}`, path: 'bgp.hosts[0].peers[0].address', message: /fe80::1 is link-local/, hint: /fe80::1%eth0/ },
  { name: 'an interface after a global address', text: `${V6}${V6_HOSTS.replace('fe80::1%eth0', 'fd00:ff::1%eth0')}`, path: 'bgp.hosts[0].peers[0].address', message: /only written after a link-local address/ },
  { name: 'multihop with BFD and no source address', text: SESSION.replace(', sourceAddress: 10.0.1.2, bfd: false', ''), path: 'bgp.peers[1].sourceAddress', message: /multihop session with BFD needs the address this host sends from/ },
  { name: 'multihop to a link-local router', text: `${V6}${V6_HOSTS.replace('asn: 4200000002 }', 'asn: 4200000002, multihop: 2 }')}`, path: 'bgp.hosts[1].peers[0].multihop', message: /one hop away/ },
  { name: 'a source address of the other family', text: SESSION.replace('sourceAddress: 10.0.1.2', 'sourceAddress: "fd00::2"'), path: 'bgp.peers[1].sourceAddress', message: /IPv6 and the peer 10\.9\.9\.9 IPv4/ },
  { name: 'the endpoint as source address', text: SESSION.replace('sourceAddress: 10.0.1.2', 'sourceAddress: 10.96.0.10'), path: 'bgp.peers[1].sourceAddress', message: /every LB host carries/ },
  { name: 'a peer BFD interval out of range', text: SESSION.replace('bfdInterval: 300ms', 'bfdInterval: 5ms'), path: 'bgp.peers[0].bfdInterval', message: /out of range/ },
  { name: 'a relative password file', text: SESSION.replace('/etc/cluster-endpoint/tor-1.md5', 'tor-1.md5'), path: 'bgp.peers[0].passwordFile', message: /does not match \^\// },
  { name: 'two hosts of one name', text: `${V6}${V6_HOSTS.replace('name: lb-r2', 'name: lb-r1')}`, path: 'bgp.hosts[1].name', message: /already used/ },
  { name: 'two hosts with one router id', text: `${V6}${V6_HOSTS.replace('routerId: 10.255.0.2', 'routerId: 10.255.0.1')}`, path: 'bgp.hosts[1].routerId', message: /router id 10\.255\.0\.1 is used by host lb-r1 and host lb-r2/ },
  { name: 'a shared fixed router id for several hosts', text: `${V6}${V6_HOSTS.replace(/ {6}routerId: .*\n/g, '').replace('  localAsn: 4200000010\n', '  localAsn: 4200000010\n  routerId: 10.255.0.9\n')}`, path: 'bgp.routerId', message: /used by host lb-r1 and host lb-r2/ },
  { name: 'a host without any router', text: `${V6}${V6_HOSTS}    - { name: lb-r3, routerId: 10.255.0.3 }\n`, path: 'bgp.hosts[2].peers', message: /host lb-r3 has no router to announce the endpoint to/ },
  { name: 'a host peer named like a shared one', text: `${V6}${V6_HOSTS}  peers:\n    - { name: tor-r1a, address: "fd00:ff::1", asn: 4200000000 }\n`, path: 'bgp.hosts[0].peers[0].name', message: /"tor-r1a" is used twice by host lb-r1/ },
  { name: 'no peers and no hosts', text: `${BASE}bgp: { localAsn: 65010 }\n`, path: 'bgp.peers', message: /^no router to announce the endpoint to/ },
  { name: 'dual stack: the endpoint not announced', text: DUAL.replace('endpoint: api.dual.example', 'endpoint: 10.96.0.11'), path: 'endpoint', message: /not one of bgp\.addresses/ },
  { name: 'dual stack: two IPv4 addresses', text: DUAL.replace('"fd00:96::10"', '10.96.0.11'), path: 'bgp.addresses[1]', message: /second IPv4 address/ },
  { name: 'dual stack: no IPv6 peer for the IPv6 address', text: DUAL.replace('    - { name: tor-1v6, address: "fd00:1::1", asn: 65000 }\n', ''), path: 'bgp.addresses[1]', message: /fd00:96::10 is IPv6, but no peer is IPv6/ },
  { name: 'dual stack: bound to IPv4 only', text: DUAL.replace('bind: "::"', 'bind: 0.0.0.0'), path: 'balancer.bind', message: /must accept the endpoint 10\.96\.0\.10 and fd00:96::10/, hint: /bind ::/ },
  { name: 'dual stack: a name among the addresses', text: DUAL.replace('10.96.0.10,', 'api.dual.example,'), path: 'bgp.addresses[0]', message: /not an IP address/ },
];

for (const bad of MORE_BAD) {
  test(`bgp spec: ${bad.name}`, () => {
    const result = parseSpec(bad.text, 'endpoint.yaml');
    assert.equal(result.spec, undefined, 'the spec should be invalid');
    const problem = result.problems.find((p) => p.path === bad.path && p.severity === 'error');
    assert.ok(problem, `no error at ${bad.path}: ${JSON.stringify(result.problems)}`);
    assert.match(problem.message, bad.message);
    assert.ok(problem.hint, 'every problem says how to fix it');
    if (bad.hint) assert.match(problem.hint, bad.hint);
  });
}

test('bgp spec: one file for an IPv6-only fleet; each host\'s view has its router id and its own peers (serve --peer picks it)', () => {
  const result = parseSpec(`${V6}${V6_HOSTS}`, 'endpoint.yaml');
  assert.ok(result.spec?.bgp, JSON.stringify(result.problems));
  const bgp = result.spec.bgp;
  assert.deepEqual(bgp.hosts.map((h) => [h.name, h.routerId, h.peers.map((p) => p.address)]), [['lb-r1', '10.255.0.1', ['fe80::1%eth0', 'fe80::2%bond0.408']], ['lb-r2', '10.255.0.2', ['fe80::1%ens18']]]);
  const r2 = bgpForHost(bgp, selectBgpHost(bgp, 'lb-r2', () => false));
  assert.equal(r2.routerId, '10.255.0.2');
  assert.deepEqual(r2.peers.map((p) => p.name), ['tor-r2a']);
  assert.equal(selectBgpHost(bgp, undefined, (a) => a === '10.255.0.1')?.name, 'lb-r1', 'without --peer: the host whose router id is local');
  assert.throws(() => selectBgpHost(bgp, 'lb-r9', () => false), /--peer lb-r9 is not one of bgp\.hosts/);
  assert.throws(() => selectBgpHost(bgp, undefined, () => false), (error: UserError) => /none of the hosts is this one/.test(error.message) && /--peer NAME \(one of: lb-r1, lb-r2\)/.test(error.hint ?? ''));
});

test('bgp spec: session options are normalized per peer, a peer\'s BFD overriding the section\'s', () => {
  const result = parseSpec(SESSION, 'endpoint.yaml');
  assert.ok(result.spec?.bgp, JSON.stringify(result.problems));
  const [tor, core] = result.spec.bgp.peers;
  assert.deepEqual(tor, { name: 'tor-1', address: '10.0.1.1', asn: 65000, port: 179, passwordFile: '/etc/cluster-endpoint/tor-1.md5', bfd: true, bfdIntervalMs: 300, bfdMultiplier: 5 });
  assert.deepEqual(core, { name: 'core', address: '10.9.9.9', asn: 65000, port: 179, multihop: 3, sourceAddress: '10.0.1.2', bfd: false, bfdIntervalMs: 100, bfdMultiplier: 3 });
});

test('bgp spec: a dual-stack endpoint (a name, both addresses announced) validates', () => {
  const result = parseSpec(DUAL, 'endpoint.yaml');
  assert.ok(result.spec?.bgp, JSON.stringify(result.problems));
  assert.deepEqual(result.spec.bgp.addresses, ['10.96.0.10', 'fd00:96::10']);
});
