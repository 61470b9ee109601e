// An address on a link without carrier is still this host's (issue 24, item 9). serve is started in a namespace
// whose only link is configured and up but has no carrier yet (its peer is down, as during boot, a flap, or a
// veth whose other end comes up a moment later): kernel mode must accept balancer.bind on it, and the VIP must
// find its own peer entry by that address. os.networkInterfaces() leaves such an interface out entirely.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { canUseNamespaces, Lab } from '../../helpers/lab.js';

test('serve started before its link has carrier: kernel mode binds its address, the VIP knows which peer it is', async (t) => {
  if (!requireOrSkip(t, await canUseNamespaces(), 'needs root and ip netns')) return;
  const lab = await Lab.create({ segments: { front: 1 }, hosts: { lb: { front: 1 }, other: { front: 2 } } }, 'cecarr');
  const dir = await mkdtemp(join(tmpdir(), 'ce-no-carrier-'));
  t.after(async () => { await lab.cleanup(); await rm(dir, { recursive: true, force: true }); });
  // The switch side of lb's link is down: eth0 is configured and administratively up, with no carrier.
  await lab.setLink('lb', 'front', false);
  const [link] = JSON.parse(await lab.exec('lb', ['ip', '-j', 'link', 'show', 'dev', 'eth0'])) as Array<{ flags: string[] }>;
  assert.ok(link.flags.includes('NO-CARRIER') && link.flags.includes('UP'), `eth0 flags: ${link.flags.join(',')}`);
  const address = lab.addressOf('lb');
  const other = lab.addressOf('other');
  // What Node sees: nothing on eth0.
  const node = await lab.exec('lb', [process.execPath, '-e', 'console.log(JSON.stringify(Object.keys(require("node:os").networkInterfaces())))']);
  assert.ok(!JSON.parse(node).includes('eth0'), 'os.networkInterfaces() leaves a link without carrier out (what this test is about)');
  await lab.sysctl('lb', 'net.ipv4.ip_forward=1');

  const serve = async (name: string, spec: Record<string, unknown>) => {
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, stringify(spec));
    const proc = lab.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', path], { cwd: ROOT, group: true });
    const outcome = await Promise.race([
      proc.waitForLine((l) => l.json?.event === 'started', 30_000).then(() => 'started'),
      proc.exited.then((code) => `exited ${code}`),
    ]);
    const output = proc.lines.map((l) => l.text).join('\n');
    lab.killGroup(proc, 'SIGTERM');
    await proc.exited;
    return { outcome, output };
  };
  const base = {
    cluster: { name: 'carrier' },
    controlPlane: [{ name: 'cp-01', address: other }],
    listeners: [{ name: 'kubernetes', port: 6443, targetPort: 6443, targets: 'controlPlane' }],
    healthCheck: { interval: '1s', timeout: '500ms' },
  };

  const kernel = await serve('kernel', { ...base, endpoint: address, balancer: { mode: 'kernel', bind: address, admin: '127.0.0.1:8404', watch: false } });
  assert.equal(kernel.outcome, 'started', kernel.output);
  assert.doesNotMatch(kernel.output, /is not an address of this host/);

  const vip = `10.${lab.octet}.1.100`;
  const withVip = await serve('vip', {
    ...base, endpoint: vip,
    balancer: { bind: '0.0.0.0', admin: '127.0.0.1:8405', watch: false },
    vip: { address: vip, prefixLength: 24, interface: 'eth0', authKey: 'carrier-key-0123', peers: [{ name: 'lb-a', address: other, priority: 150 }, { name: 'lb-b', address, priority: 100 }] },
  });
  assert.equal(withVip.outcome, 'started', withVip.output);
  assert.match(withVip.output, /lb-b/, 'this host is the peer whose address is on eth0');
  assert.doesNotMatch(withVip.output, /no vip\.peers address is on this host/);
});
