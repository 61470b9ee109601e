// How a new holder announces the VIP, on a real segment of namespaces. With the proxy it also makes the kernel
// announce it at once (a datagram from the VIP to each peer: "who-has PEER tell VIP"), which only some neighbours
// follow. With the kernel data plane it sends only the gratuitous ARP, which moves every neighbour at once:
// neighbours split between two hosts whose kernels both forward would send a new connection's SYN through one and
// the server's reply through the other.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { canUseNamespaces, ip, Lab, pathWithout } from '../../helpers/lab.js';
import { hasCommand } from '../render-bare-metal/netns.js';

const STALE_MAC = '02:00:00:00:00:01';

describe('VIP announcement with the proxy and with the kernel data plane (namespaces, arping)', { timeout: 60_000 }, () => {
  let lab: Lab | undefined;
  let ok = false;

  before(async () => {
    ok = (await canUseNamespaces()) && (await hasCommand('arping'));
    if (ok) lab = await Lab.create({ segments: { lan: 1 }, hosts: { lb: { lan: 5 }, peer: { lan: 6 }, node: { lan: 11 } } }, 'ceann');
  });
  after(async () => { await lab?.cleanup(); });

  /** Takes the VIP on `lb`; what the peer received on UDP port 9 and the MAC the node's entry for the VIP then has. */
  async function announce(mode: 'proxy' | 'kernel', env: Record<string, string> = {}): Promise<{ datagrams: string[]; nodeMac: string | undefined; log: string }> {
    const l = lab!;
    const vip = `${l.segments.get('lan')!.subnet}.100`;
    // The node knew the VIP at another MAC (the old holder's); the gratuitous ARP must replace it.
    await ip('-n', l.host('node').ns, 'neigh', 'replace', vip, 'lladdr', STALE_MAC, 'dev', 'eth0', 'nud', 'stale');
    const listener = l.spawn('peer', [process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>console.log('from '+r.address));s.bind(9,()=>console.log('listening'));setTimeout(()=>s.close(),5000)"]);
    await listener.waitForLine((line) => line.text === 'listening');
    const holder = l.spawn('lb', [process.execPath, '--import', 'tsx', join(ROOT, 'test/integration/vip/announce.ts'), vip, '24', 'eth0', l.addressOf('lb'), l.addressOf('peer'), mode, '400'], { cwd: ROOT, env });
    await holder.waitForLine((line) => line.text === 'acquired', 15_000);
    const mac = l.host('lb').interfaces[0].mac;
    const nodeMac = await l.waitForNeighbourMac('node', vip, mac, 300);
    await holder.waitForLine((line) => line.text === 'released', 5000);
    assert.equal(await holder.exited, 0, holder.lines.map((line) => line.text).join('\n'));
    await l.kill(listener, 'SIGKILL');
    await listener.exited;
    return { datagrams: listener.lines.map((line) => line.text).filter((text) => text.startsWith('from ')), nodeMac, log: holder.lines.map((line) => line.text).join('\n') };
  }

  it('proxy: the kernel announcement (a datagram from the VIP to the peer) and the gratuitous ARP', async (t) => {
    if (!requireOrSkip(t, ok, 'needs root, `ip netns` and arping')) return;
    // The new holder has no neighbour entry for the peer yet: the announcement must not depend on one.
    const { datagrams, nodeMac, log } = await announce('proxy');
    assert.deepEqual(datagrams, [`from ${lab!.segments.get('lan')!.subnet}.100`], log);
    assert.doesNotMatch(log, /failed/);
    assert.equal(nodeMac, lab!.host('lb').interfaces[0].mac, 'the node follows the new holder');
  });

  it('kernel data plane: the gratuitous ARP only, which the node follows at once', async (t) => {
    if (!requireOrSkip(t, ok, 'needs root, `ip netns` and arping')) return;
    const { datagrams, nodeMac, log } = await announce('kernel');
    assert.deepEqual(datagrams, [], `no kernel announcement\n${log}`);
    assert.doesNotMatch(log, /failed/);
    assert.equal(nodeMac, lab!.host('lb').interfaces[0].mac, 'the node follows the new holder');
  });

  it('kernel data plane without arping: the kernel announcement, the only one there is', async (t) => {
    if (!requireOrSkip(t, ok, 'needs root, `ip netns` and arping')) return;
    const bin = await pathWithout('arping');
    t.after(bin.remove);
    const { datagrams, log } = await announce('kernel', { PATH: bin.path });
    assert.deepEqual(datagrams, [`from ${lab!.segments.get('lan')!.subnet}.100`], log);
    assert.match(log, /arping is not installed/);
  });
});

