// VipManager over real UDP sockets on loopback (127.0.0.1-3), with the in-memory announcer.
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { UserError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { Vip } from '../../../src/spec/types.js';
import { NopAnnouncer } from '../../../src/vip/announcers/nop.js';
import { encodeAdvert } from '../../../src/vip/election/packet.js';
import { selectSelf, VipManager } from '../../../src/vip/manager.js';
import { HealthFlag } from '../../helpers/health.js';
import { waitFor } from '../../helpers/net.js';

const KEY = 'unit-test-key';
const vip = (extra: Partial<Vip> = {}): Vip => ({
  address: '10.99.0.100', family: 4, prefixLength: 24, interface: 'eth0', virtualRouterId: 51, advertIntervalMs: 50,
  preempt: true, authKey: KEY, unicast: true,
  peers: [
    { name: 'lb-01', address: '127.0.0.1', priority: 100 },
    { name: 'lb-02', address: '127.0.0.2', priority: 90 },
    { name: 'lb-03', address: '127.0.0.3', priority: 80 },
  ],
  ...extra,
});

let nextPort = 40000 + Math.floor(Math.random() * 20000);

function cluster(spec: Vip) {
  const port = nextPort++;
  const health = new Map(spec.peers.map((p) => [p.name, new HealthFlag()]));
  const nodes = spec.peers.map((self) => {
    const announcer = new NopAnnouncer();
    const manager = new VipManager({ vip: spec, self, health: health.get(self.name)!, logger: silentLogger, announcer, port });
    return { name: self.name, manager, announcer };
  });
  const holders = () => nodes.filter((n) => n.announcer.held).map((n) => n.name);
  const stopAll = () => Promise.all(nodes.map((n) => n.manager.stop()));
  return { port, nodes, health, holders, stopAll };
}

describe('VipManager on loopback', () => {
  const stops: (() => Promise<unknown>)[] = [];
  after(async () => { for (const stop of stops) await stop(); });

  it('elects the highest priority, moves on a planned stop at once, and moves on unhealthiness', async () => {
    const c = cluster(vip());
    stops.push(c.stopAll);
    await Promise.all(c.nodes.map((n) => n.manager.start()));
    assert.deepEqual(await waitFor(() => (c.holders().length === 1 && c.holders()[0] === 'lb-01' ? c.holders() : undefined), 3000), ['lb-01']);
    await waitFor(() => c.nodes[1].manager.snapshot().holder === 'lb-01', 1000);
    assert.equal(c.nodes[1].manager.snapshot().role, 'backup');

    const stoppedAt = Date.now();
    const stopping = c.nodes[0].manager.stop();
    await waitFor(() => c.holders().includes('lb-02'), 1000);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs < 60, `planned failover took ${tookMs} ms (master-down interval would be ~190 ms)`);
    assert.deepEqual(c.holders(), ['lb-01', 'lb-02'], 'make before break: lb-01 keeps the VIP until lb-02 has it');
    await stopping;
    assert.deepEqual(c.holders(), ['lb-02']);
    assert.ok(Date.now() - stoppedAt < 500, 'lb-01 released after the handover grace (250 ms)');
    const last = c.nodes[1].manager.snapshot().transitions.at(-1)!;
    assert.equal(last.to, 'master');

    c.health.get('lb-02')!.set(false);
    await waitFor(() => c.holders()[0] === 'lb-03', 1000);
    assert.deepEqual(c.holders(), ['lb-03']);
    const snap = c.nodes[1].manager.snapshot();
    assert.equal(snap.role, 'fault');
    assert.equal(snap.effectivePriority, 0);
    assert.match(snap.transitions.at(-1)!.reason, /unhealthy/);

    // Healthy again: after the hold-down lb-02 preempts lb-03 (higher priority), and exactly one holds it.
    c.health.get('lb-02')!.set(true);
    await waitFor(() => c.holders()[0] === 'lb-02', 2000);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(c.holders(), ['lb-02']);
    assert.equal(c.nodes[2].manager.snapshot().holder, 'lb-02');
  });

  it('without preempt a returning higher priority stays backup', async () => {
    const c = cluster(vip({ preempt: false, peers: vip().peers.slice(0, 2) }));
    stops.push(c.stopAll);
    await c.nodes[1].manager.start();
    await waitFor(() => c.holders()[0] === 'lb-02', 2000);
    await c.nodes[0].manager.start();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(c.holders(), ['lb-02']);
    assert.equal(c.nodes[0].manager.snapshot().role, 'backup');
  });

  it('drops packets with a wrong key, a spoofed sender or a replay, and counts them', async () => {
    const spec = vip({ peers: vip().peers.slice(0, 2) });
    const c = cluster(spec);
    stops.push(c.stopAll);
    await Promise.all(c.nodes.map((n) => n.manager.start()));
    await waitFor(() => c.holders()[0] === 'lb-01', 2000);
    const rogue = createSocket('udp4');
    stops.push(() => new Promise<void>((r) => rogue.close(() => r())));
    await new Promise<void>((r) => rogue.bind({ address: '127.0.0.2', port: 0 }, () => r()));
    const send = (packet: Buffer) => new Promise<void>((r) => rogue.send(packet, c.port, '127.0.0.1', () => r()));
    const seq = () => BigInt(Date.now() * 1000 + 500_000);
    // A higher priority than lb-01's from lb-02's address would take the VIP over, if it were accepted.
    await send(encodeAdvert({ virtualRouterId: 51, priority: 254, advertIntervalMs: 50, sequence: seq(), sender: 'lb-02' }, 'wrong-key-here'));
    await send(encodeAdvert({ virtualRouterId: 51, priority: 254, advertIntervalMs: 50, sequence: seq(), sender: 'lb-09' }, KEY));
    await send(encodeAdvert({ virtualRouterId: 52, priority: 254, advertIntervalMs: 50, sequence: seq(), sender: 'lb-02' }, KEY));
    await send(encodeAdvert({ virtualRouterId: 51, priority: 254, advertIntervalMs: 50, sequence: 1n, sender: 'lb-02' }, KEY));
    const stats = await waitFor(() => { const s = c.nodes[0].manager.stats(); return s.dropped.replay >= 1 ? s : undefined; }, 1000);
    assert.ok(stats, 'all four packets arrived');
    assert.deepEqual({ auth: stats.dropped.auth, unknown: stats.dropped['unknown-peer'], rid: stats.dropped['router-id'], replay: stats.dropped.replay }, { auth: 1, unknown: 1, rid: 1, replay: 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.nodes[0].manager.snapshot().role, 'master', 'the forged packets changed nothing');
    assert.equal(c.nodes[0].manager.snapshot().advertsDropped?.auth, 1, 'the snapshot (status page, /metrics) shows the wrong-key drop');
    assert.deepEqual(c.holders(), ['lb-01']);
  });

  it('refuses to run without a key, with multicast, or for a peer that is not listed', () => {
    const saved = process.env.CLUSTER_ENDPOINT_VIP_KEY;
    delete process.env.CLUSTER_ENDPOINT_VIP_KEY;
    try {
      const make = (spec: Vip, name = 'lb-01') => new VipManager({ vip: spec, self: { name, address: '127.0.0.1', priority: 100 }, health: new HealthFlag(), logger: silentLogger });
      assert.throws(() => make(vip({ authKey: undefined })), (e: unknown) => e instanceof UserError && e.code === 'VIP' && /authKey/.test(e.hint ?? ''));
      assert.throws(() => make(vip({ unicast: false })), /unicast/);
      assert.throws(() => make(vip(), 'lb-99'), /not in vip.peers/);
    } finally {
      if (saved !== undefined) process.env.CLUSTER_ENDPOINT_VIP_KEY = saved;
    }
  });

  it('reports a bind failure as a UserError naming the peer address', async () => {
    const m = new VipManager({ vip: vip(), self: { name: 'lb-01', address: '10.255.255.1', priority: 100 }, health: new HealthFlag(), logger: silentLogger, announcer: new NopAnnouncer(), port: nextPort++ });
    await assert.rejects(m.start(), (e: unknown) => e instanceof UserError && /cannot bind/.test(e.message) && /EADDRNOTAVAIL/.test(e.message));
    await m.stop();
  });
});

describe('selectSelf', () => {
  it('picks by --peer, else by a local address', () => {
    assert.equal(selectSelf(vip(), 'lb-02').name, 'lb-02');
    assert.throws(() => selectSelf(vip(), 'nope'), (e: unknown) => e instanceof UserError && /lb-01, lb-02, lb-03/.test(e.hint ?? ''));
    const one = vip({ peers: [{ name: 'a', address: '127.0.0.1', priority: 10 }, { name: 'b', address: '10.255.255.1', priority: 20 }] });
    assert.equal(selectSelf(one).name, 'a');
    assert.throws(() => selectSelf(vip({ peers: [{ name: 'b', address: '10.255.255.1', priority: 20 }] })), /no vip.peers address is on this host/);
  });
});
