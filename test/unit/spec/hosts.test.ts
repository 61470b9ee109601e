// Per-host settings in one spec (issue 19 item 11): each LB host's VIP interface reaches serve's view and every
// per-host target (keepalived.conf, the systemd unit), and the flow sync follows it unless written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinRenderer } from '../../../src/render/builtin/index.js';
import { keepalivedRenderer } from '../../../src/render/keepalived/index.js';
import { vipForPeer } from '../../../src/spec/hosts.js';
import { GOLDEN_CONTEXT, loadSpec, specText } from '../render/golden.js';

const PAIR = specText('bare-metal-tcp').replace('{ name: lb-02, address: 192.168.30.12, priority: 90 }', '{ name: lb-02, address: 192.168.30.12, priority: 90, interface: ens18 }');

test('vip.peers[].interface: a host\'s view holds the VIP on its own interface; the others keep vip.interface', () => {
  const spec = loadSpec(PAIR);
  const [lb1, lb2] = spec.vip!.peers;
  assert.equal(vipForPeer(spec.vip!, lb1).interface, 'eth0');
  assert.equal(vipForPeer(spec.vip!, lb2).interface, 'ens18');
});

test('vip.sync.interface follows the host\'s VIP interface unless it is written', () => {
  const kernel = `${PAIR}balancer: { mode: kernel }\n`;
  const spec = loadSpec(kernel);
  assert.equal(vipForPeer(spec.vip!, spec.vip!.peers[1]).sync?.interface, 'ens18');
  const written = loadSpec(kernel.replace('  advertInterval: 1s\n', '  advertInterval: 1s\n  sync: { interface: sync0 }\n'));
  assert.equal(vipForPeer(written.vip!, written.vip!.peers[1]).sync?.interface, 'sync0');
});

test('keepalived.conf and the serve unit of each LB host use that host\'s interface', () => {
  const spec = loadSpec(PAIR);
  const keepalived = keepalivedRenderer.render(spec, GOLDEN_CONTEXT);
  const lb1 = keepalived.find((f) => f.path === 'lb-01/keepalived.conf')!.contents;
  const lb2 = keepalived.find((f) => f.path === 'lb-02/keepalived.conf')!.contents;
  assert.match(lb1, /^ {4}interface eth0$/m);
  assert.match(lb1, /192\.168\.30\.30\/24 dev eth0$/m);
  assert.match(lb2, /^ {4}interface ens18$/m);
  assert.match(lb2, /192\.168\.30\.30\/24 dev ens18$/m);
  const units = builtinRenderer.render(spec, GOLDEN_CONTEXT);
  assert.match(units.find((f) => f.path.startsWith('lb-02/'))!.contents, /ip addr del 192\.168\.30\.30\/24 dev ens18$/m);
  assert.match(units.find((f) => f.path.startsWith('lb-01/'))!.contents, /ip addr del 192\.168\.30\.30\/24 dev eth0$/m);
});

test('bgp.hosts: the serve unit of each host says which host it is (--peer)', () => {
  const spec = loadSpec(specText('bgp-bird-fleet'));
  const units = builtinRenderer.render(spec, GOLDEN_CONTEXT);
  assert.deepEqual(units.map((f) => f.path.split('/')[0]), ['lb-r1', 'lb-r2']);
  assert.match(units[1].contents, /serve -c \S+ --peer lb-r2$/m);
});
