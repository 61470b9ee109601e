// serve --peer NAME picks this host among the spec's LB hosts (vip.peers, bgp.hosts). A spec that lists none has
// nothing for it to choose, and a name the lists lack is a typo: both are refused before anything starts (exit 2),
// naming the flag and what would make it meaningful, instead of being ignored.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkPeerFlag } from '../../../src/spec/hosts.js';
import { parseSpec } from '../../../src/spec/load.js';
import { runCli } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ce-peer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = `cluster: { name: peer }
endpoint: 127.0.0.1
controlPlane: [{ name: cp-01, address: 127.0.0.1 }]
listeners: [{ name: kubernetes, port: 46443, targetPort: 46444, targets: controlPlane }]
balancer: { admin: 127.0.0.1:48404, watch: false }
`;
const VIP = `vip:
  address: 127.0.0.50
  virtualRouterId: 51
  authKey: peer-test-key-0123
  peers:
    - { name: lb-1, address: 127.0.0.11, priority: 100 }
    - { name: lb-2, address: 127.0.0.12, priority: 90 }
`;
const BGP = `bgp:
  localAsn: 65010
  hosts:
    - { name: lb-r1, peers: [{ name: tor-1, address: 10.0.1.1, asn: 65001 }] }
    - { name: lb-r2, peers: [{ name: tor-2, address: 10.0.2.1, asn: 65001 }] }
`;

function spec(text: string) {
  const { spec, problems } = parseSpec(text);
  assert.ok(spec, JSON.stringify(problems));
  return spec;
}

test('serve --peer on a spec without vip.peers or bgp.hosts is refused before anything starts, naming the flag', async () => {
  const path = join(dir, 'plain.yaml');
  writeFileSync(path, BASE);
  const result = await runCli(['serve', '-c', path, '--peer', 'lb-1'], { timeoutMs: 20_000 });
  assert.equal(result.code, 2, `exit 2, not a serve that ignores --peer: ${result.stdout}${result.stderr}`);
  assert.match(result.stderr, /--peer lb-1: the spec lists no LB hosts \(neither vip\.peers nor bgp\.hosts\), so --peer has nothing to choose from/);
  assert.match(result.stderr, /remove --peer.*vip\.peers.*bgp\.hosts/);
  assert.doesNotMatch(result.stdout + result.stderr, /"event":"started"|\n\s+at /);
});

test('serve --peer with a name the spec lacks is refused with exit 2 and the names it has', async () => {
  const path = join(dir, 'vip.yaml');
  writeFileSync(path, BASE + VIP);
  const result = await runCli(['serve', '-c', path, '--peer', 'lb-9'], { timeoutMs: 20_000 });
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /--peer lb-9 is not one of vip\.peers \(lb-1, lb-2\)/);
  assert.match(result.stderr, /use one of: lb-1, lb-2/);
});

test('checkPeerFlag: a name of the list the spec has (vip and bgp exclude each other); without --peer nothing is checked', () => {
  const plain = spec(BASE);
  checkPeerFlag(plain, undefined);
  assert.throws(() => checkPeerFlag(plain, 'x'), (e: { code: string; exitCode: number }) => e.code === 'USAGE' && e.exitCode === 2);
  checkPeerFlag(spec(BASE + VIP), 'lb-2');
  const bgp = spec(BASE + BGP);
  checkPeerFlag(bgp, 'lb-r2');
  assert.throws(() => checkPeerFlag(bgp, 'lb-1'), /--peer lb-1 is not one of bgp\.hosts \(lb-r1, lb-r2\)/);
  // bgp without hosts: every host runs the same BGP settings, and --peer has nothing to pick.
  assert.throws(() => checkPeerFlag(spec(BASE + 'bgp: { localAsn: 65010, peers: [{ name: tor, address: 10.0.1.1, asn: 65001 }] }\n'), 'lb-r1'), /the spec lists no LB hosts/);
});
