// Golden files for `render bird` (test/golden/render/<case>/bird/) and the config serve writes for BIRD; BIRD 2
// itself parses each rendered bird.conf (`bird -p`) when it is installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { birdConfig, peerProtocol } from '../../../src/bgp/config.js';
import { bgpForHost } from '../../../src/spec/hosts.js';
import { birdRenderer } from '../../../src/render/bird/index.js';
import { RenderRefused } from '../../../src/render/refusals.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { assertGolden, caseSpec, GOLDEN_CONTEXT, loadSpec, renderError, specText } from '../render/golden.js';

const CASES = ['bgp-bird', 'bgp-bird-ipv6', 'bgp-bird-fleet'] as const;

function birdAvailable(): boolean {
  try { execFileSync('bird', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

for (const name of CASES) {
  test(`bird golden: ${name}`, (t) => {
    const files = birdRenderer.render(caseSpec(name), GOLDEN_CONTEXT);
    assertGolden(name, 'bird', files);
    if (!requireOrSkip(t, birdAvailable(), 'bird (Debian bird2) is not installed: the rendered config is not parsed by BIRD')) return;
    const configs = files.filter((f) => f.path.endsWith('bird.conf'));
    assert.ok(configs.length > 0);
    for (const file of configs) birdParses(file.contents);
  });
}

/** BIRD 2 itself parses the file (bird -p), or the test fails with BIRD's message. */
function birdParses(contents: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'ce-bird-'));
  try {
    const conf = join(dir, 'bird.conf');
    writeFileSync(conf, contents);
    execFileSync('bird', ['-p', '-c', conf], { stdio: 'pipe' });
  } catch (error) {
    assert.fail(`bird -p refuses the file: ${String((error as { stderr?: Buffer }).stderr ?? error)}\n${contents}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bird config: the endpoint starts withdrawn, BFD and timers follow the spec, peers get BIRD-safe names', () => {
  const spec = caseSpec('bgp-bird');
  const text = birdConfig({ addresses: spec.bgp!.addresses, bgp: spec.bgp!, log: 'stderr', header: [] });
  assert.match(text, /protocol static endpoint \{\n  disabled;\n  ipv4;\n  route 10\.96\.0\.10\/32 blackhole;/);
  assert.match(text, /interval 100 ms;\n    multiplier 3;/);
  assert.match(text, /hold time 9;\n  keepalive time 3;/);
  assert.match(text, /graceful restart off;/);
  assert.match(text, /router id from -"lo", "\*";/);
  assert.equal(peerProtocol({ name: 'tor-1' }), 'peer_tor_1');
  const noBfd = birdConfig({ addresses: spec.bgp!.addresses, bgp: { ...spec.bgp!, bfd: false, peers: spec.bgp!.peers.map((p) => ({ ...p, bfd: false })) }, log: 'stderr', header: [] });
  assert.doesNotMatch(noBfd, /bfd/);
});

test('render bird: a spec without bgp is refused with a hint', () => {
  const error = renderError(() => birdRenderer.render(loadSpec('cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane: [{ name: cp-01, address: 10.0.0.2 }]\n'), GOLDEN_CONTEXT));
  assert.equal(error.code, 'RENDER');
  assert.match(error.message, /needs a bgp section/);
  assert.ok(error.hint);
});

test('render bird: one bird.conf per host of bgp.hosts, each with that host\'s router id and routers, both families', () => {
  const files = birdRenderer.render(caseSpec('bgp-bird-fleet'), GOLDEN_CONTEXT);
  assert.deepEqual(files.map((f) => f.path), ['lb-r1/bird.conf', 'lb-r2/bird.conf', 'bgp-health.sh', 'cluster-endpoint-bgp-health.service']);
  const r1 = files[0].contents;
  assert.match(r1, /router id 10\.0\.1\.11;/);
  assert.match(r1, /protocol static endpoint4 \{\n  disabled;\n  ipv4;\n  route 10\.96\.0\.10\/32 blackhole;/);
  assert.match(r1, /protocol static endpoint6 \{\n  disabled;\n  ipv6;\n  route fd00:96::10\/128 blackhole;/);
  assert.match(r1, /template bgp lb6 from lb \{\n  ipv6 \{\n    import none;\n    export where proto = "endpoint6";/);
  // A link-local router: the interface as BIRD's interface option (a name with a dot cannot follow '%').
  assert.match(r1, /protocol bgp peer_tor_r1_v6 from lb6 \{\n  description "tor-r1-v6";\n  neighbor fe80::1 as 65001;\n  interface "bond0\.408";\n  bfd \{ interval 50 ms; multiplier 5; \};/);
  assert.match(r1, /protocol bgp peer_rs from lb4 \{\n  description "rs";\n  neighbor 10\.255\.0\.1 as 65000;\n  source address 10\.0\.1\.11;\n  strict bind on;\n  multihop 2;\n  bfd \{ interval 200 ms; multiplier 3; \};/);
  assert.doesNotMatch(r1, /tor-r2/);
  assert.match(r1, /protocol bfd \{\n  strict bind on;/, 'with source addresses BFD listens on them alone (several speakers on one host)');
  const r2 = files[1].contents;
  assert.match(r2, /router id 10\.0\.2\.11;/);
  assert.match(r2, /neighbor 10\.0\.2\.1 port 1179 as 65002;/);
  assert.match(r2, /neighbor fe80::1 as 65002;\n  interface "eno1";\n  bfd off;/);
  const script = files[2].contents;
  assert.match(script, /ip addr replace 10\.96\.0\.10\/32 dev lo\nip addr replace fd00:96::10\/128 dev lo/);
  assert.match(script, /tell\(\) \{ \$BIRDC "\$1" endpoint4 >\/dev\/null && \$BIRDC "\$1" endpoint6 >\/dev\/null && since=0; \}/);
  assert.match(files[3].contents, /disable endpoint4\nExecStopPost=-\/usr\/sbin\/birdc -s \/run\/bird\/bird\.ctl disable endpoint6/);
});

test('render bird refuses a passwordFile (naming the field) instead of writing a session without its password', () => {
  const text = `${specText('bgp-bird')}`.replace('{ name: tor-2, address: 10.0.1.2, asn: 65000 }', '{ name: tor-2, address: 10.0.1.2, asn: 65000, passwordFile: /etc/cluster-endpoint/tor-2.md5 }');
  const error = renderError(() => birdRenderer.render(loadSpec(text), GOLDEN_CONTEXT));
  assert.equal(error.code, 'RENDER');
  assert.match(error.message, /^bgp\.peers\[1\]\.passwordFile: render bird writes files you copy/);
  assert.match(error.hint ?? '', /run serve on the LB hosts|password "<secret>"; to protocol bgp peer_tor_2/);
});

test('render bird reports every refusal at once, each naming its field, as validate does', () => {
  const text = specText('bgp-bird-fleet')
    .replace('{ name: tor-r1, address: 10.0.1.1, asn: 65001 }', '{ name: tor-r1, address: 10.0.1.1, asn: 65001, passwordFile: /etc/cluster-endpoint/tor-r1.md5 }')
    .replace('{ name: rs, address: 10.255.0.1, asn: 65000,', '{ name: rs, address: 10.255.0.1, asn: 65000, passwordFile: /etc/cluster-endpoint/rs.md5,')
    .replace('{ name: tor-r2, address: 10.0.2.1, asn: 65002, port: 1179 }', '{ name: tor-r2, address: 10.0.2.1, asn: 65002, port: 1179, passwordFile: /etc/cluster-endpoint/tor-r2.md5 }');
  let error: unknown;
  try { birdRenderer.render(loadSpec(text), GOLDEN_CONTEXT); } catch (e) { error = e; }
  assert.ok(error instanceof RenderRefused, `a RenderRefused with every refusal, not ${String(error)}`);
  assert.deepEqual(error.refusals.map((r) => r.path), ['bgp.hosts[0].peers[0].passwordFile', 'bgp.hosts[0].peers[2].passwordFile', 'bgp.hosts[1].peers[0].passwordFile']);
  assert.match(error.refusals[2].hint, /to protocol bgp peer_tor_r2 in \/etc\/bird\/bird\.conf/);
  const none = renderError(() => birdRenderer.render(loadSpec('cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane: [{ name: cp-01, address: 10.0.0.2 }]\n'), GOLDEN_CONTEXT));
  assert.ok(none instanceof RenderRefused && none.refusals[0].path === 'bgp', 'a spec without bgp names the section');
});

test('the config serve writes with an MD5 password, multihop, a source address and per-peer BFD is one BIRD accepts', (t) => {
  const spec = caseSpec('bgp-bird-fleet');
  const bgp = bgpForHost(spec.bgp!, spec.bgp!.hosts[0]);
  const text = birdConfig({ addresses: spec.bgp!.addresses, bgp, log: 'stderr', header: [], passwords: new Map([['tor-r1', 'Md5 secret!#$%&\'()*+,-./:;<=>?@[]^_`{|}~'], ['rs', 'x']]) });
  assert.match(text, /protocol bgp peer_tor_r1 from lb4 \{[^}]*# TCP MD5 \(RFC 2385\), from the peer's passwordFile\.\n  password "Md5 secret!#\$%&'\(\)\*\+,-\.\/:;<=>\?@\[\]\^_`\{\|\}~";/);
  if (!requireOrSkip(t, birdAvailable(), 'bird (Debian bird2) is not installed: the config is not parsed by BIRD')) return;
  birdParses(text);
});

test('an iBGP router (the same AS) is directly connected unless multihop says otherwise, as for eBGP, and BIRD accepts it with BFD and a link-local address', (t) => {
  const spec = caseSpec('bgp-bird-ipv6');
  const bgp = spec.bgp!;
  const peer = bgp.peers[0];
  const ibgp = [
    { ...peer, name: 'ibgp', asn: bgp.localAsn, bfd: true },
    { ...peer, name: 'ibgp-ll', address: 'fe80::1%eth0', asn: bgp.localAsn, bfd: true },
    { ...peer, name: 'ibgp-far', address: peer.address, asn: bgp.localAsn, multihop: 3, bfd: false },
  ];
  const text = birdConfig({ addresses: bgp.addresses, bgp: { ...bgp, bfd: true, peers: ibgp }, log: 'stderr', header: [] });
  assert.match(text, /protocol bgp peer_ibgp from \w+ \{[^}]*\n  direct;/);
  assert.match(text, /protocol bgp peer_ibgp_ll from \w+ \{[^}]*\n  direct;/);
  assert.doesNotMatch(text.split('protocol bgp peer_ibgp_far')[1], /direct;/);
  if (!requireOrSkip(t, birdAvailable(), 'bird (Debian bird2) is not installed: the config is not parsed by BIRD')) return;
  birdParses(text);
});
