import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  initialState, masterDownIntervalMs, nextDeadline, skewMs, step,
  type ElectionConfig, type ElectionEvent, type ElectionState, type Step,
} from '../../../src/vip/election/machine.js';

const peers = [
  { name: 'lb-01', address: '10.0.0.11', priority: 100 },
  { name: 'lb-02', address: '10.0.0.12', priority: 90 },
  { name: 'lb-03', address: '10.0.0.13', priority: 80 },
];
const config = (self: string, extra: Partial<ElectionConfig> = {}): ElectionConfig => ({
  self: peers.find((p) => p.name === self)!, peers, advertIntervalMs: 100, preempt: true, holdDownMs: 200, handoverGraceMs: 250, ...extra,
});
const advert = (now: number, name: string, priority?: number): ElectionEvent => {
  const peer = peers.find((p) => p.name === name)!;
  return { type: 'advert', now, from: { name, address: peer.address, priority: priority ?? peer.priority, advertIntervalMs: 100 } };
};

/** Runs events from the initial state and returns every step. */
function run(c: ElectionConfig, events: ElectionEvent[], from?: ElectionState): Step[] {
  let state = from ?? initialState(c);
  return events.map((event) => { const s = step(c, state, event); state = s.state; return s; });
}
const last = (steps: Step[]) => steps[steps.length - 1];
const types = (s: Step) => s.actions.map((a) => (a.type === 'send-advert' ? `advert:${a.priority}` : a.type));

describe('timing (RFC 5798)', () => {
  it('computes skew and master-down interval', () => {
    assert.equal(skewMs(100, 100), 60.9375);
    assert.equal(masterDownIntervalMs(100, 100), 360.9375);
    assert.equal(masterDownIntervalMs(254, 1000), 3000 + (2 * 1000) / 256);
    assert.ok(masterDownIntervalMs(90, 100) > masterDownIntervalMs(100, 100), 'lower priority waits longer');
  });
});

describe('election state machine', () => {
  const cases: { name: string; self: string; cfg?: Partial<ElectionConfig>; events: ElectionEvent[]; role: string; actions: string[]; reason?: RegExp; holder?: string }[] = [
    { name: 'healthy start → backup, releasing a stale VIP', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }], role: 'backup', actions: ['release'], reason: /started/ },
    { name: 'unhealthy start → fault', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: false }], role: 'fault', actions: ['release'], reason: /unhealthy/ },
    { name: 'silence for the master-down interval → master, advertise then acquire', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 361 }], role: 'master', actions: ['advert:100', 'acquire'], reason: /no master/, holder: 'lb-01' },
    { name: 'backup does not fire before the master-down interval', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 360 }], role: 'backup', actions: [] },
    { name: 'backup hearing a higher master stays backup', self: 'lb-02', events: [{ type: 'start', now: 0, healthy: true }, advert(300, 'lb-01'), { type: 'tick', now: 600 }], role: 'backup', actions: [], holder: 'lb-01' },
    { name: 'preempt: backup ignores a lower master and takes over', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, advert(100, 'lb-02'), advert(200, 'lb-02'), { type: 'tick', now: 361 }], role: 'master', actions: ['advert:100', 'acquire'], reason: /preempting lb-02 \(priority 90 < 100\)/ },
    { name: 'no preempt: backup keeps a lower master', self: 'lb-01', cfg: { preempt: false }, events: [{ type: 'start', now: 0, healthy: true }, advert(300, 'lb-02'), { type: 'tick', now: 400 }], role: 'backup', actions: [], holder: 'lb-02' },
    { name: 'master advertises every interval', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 361 }, { type: 'tick', now: 461 }], role: 'master', actions: ['advert:100'] },
    { name: 'master steps down for a higher priority (partition heals)', self: 'lb-02', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, advert(450, 'lb-01')], role: 'backup', actions: ['release'], reason: /higher priority 100 > 90/, holder: 'lb-01' },
    { name: 'master keeps the VIP against a lower priority', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, advert(450, 'lb-02')], role: 'master', actions: [] },
    { name: 'master answers a priority-0 advert at once', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, advert(450, 'lb-02', 0)], role: 'master', actions: ['advert:100'] },
    { name: 'master gives the VIP up when unhealthy, telling peers (priority 0)', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'health', now: 500, healthy: false }], role: 'fault', actions: ['advert:0', 'release'], reason: /unhealthy/ },
    { name: 'planned stop of the master: priority 0, the VIP stays for the handover', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'stop', now: 500 }], role: 'init', actions: ['advert:0'], reason: /planned stop/ },
    { name: 'handover: the VIP stays during the grace after a peer took over', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'stop', now: 500 }, advert(505, 'lb-02'), advert(605, 'lb-02'), { type: 'tick', now: 754 }], role: 'init', actions: [], holder: 'lb-02' },
    { name: 'handover: release when the grace is over', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'stop', now: 500 }, advert(505, 'lb-02'), advert(605, 'lb-02'), { type: 'tick', now: 755 }], role: 'init', actions: ['release'], holder: 'lb-02' },
    { name: 'handover: release after 3 intervals when nobody takes over', self: 'lb-01', events: [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'stop', now: 500 }, advert(505, 'lb-02', 0), { type: 'tick', now: 799 }, { type: 'tick', now: 800 }], role: 'init', actions: ['release'] },
    { name: 'planned stop of a backup only releases', self: 'lb-02', events: [{ type: 'start', now: 0, healthy: true }, { type: 'stop', now: 10 }], role: 'init', actions: ['release'] },
    { name: 'fault ignores adverts but remembers the holder', self: 'lb-02', events: [{ type: 'start', now: 0, healthy: false }, advert(100, 'lb-01')], role: 'fault', actions: [], holder: 'lb-01' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const steps = run(config(c.self, c.cfg), c.events);
      const final = last(steps);
      assert.equal(final.state.role, c.role);
      assert.deepEqual(types(final), c.actions);
      if (c.reason) assert.match(final.transition?.reason ?? '', c.reason);
      if (c.holder) assert.equal(final.state.holder, c.holder);
    });
  }

  it('equal priorities: the higher address wins, the lower master steps down', () => {
    const equal = peers.map((p) => ({ ...p, priority: 100 }));
    const low: ElectionConfig = { ...config('lb-01'), self: equal[0], peers: equal };
    const steps = run(low, [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'advert', now: 420, from: { ...equal[1], advertIntervalMs: 100 } }]);
    assert.equal(last(steps).state.role, 'backup');
    assert.match(last(steps).transition!.reason, /higher address/);
    const high: ElectionConfig = { ...config('lb-02'), self: equal[1], peers: equal };
    const kept = run(high, [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 400 }, { type: 'advert', now: 420, from: { ...equal[0], advertIntervalMs: 100 } }]);
    assert.equal(last(kept).state.role, 'master');
  });

  it('priority 0 from the master: the highest backup takes over at once, a lower one waits its skew', () => {
    const second = run(config('lb-02'), [{ type: 'start', now: 0, healthy: true }, advert(100, 'lb-01'), advert(200, 'lb-01', 0)]);
    assert.equal(last(second).state.masterDownAt, 200, 'lb-02 is the highest remaining peer');
    const third = run(config('lb-03'), [{ type: 'start', now: 0, healthy: true }, advert(100, 'lb-01'), advert(200, 'lb-01', 0)]);
    assert.equal(last(third).state.masterDownAt, 200 + skewMs(80, 100), 'lb-03 leaves lb-02 its chance');
    const takeover = step(config('lb-02'), last(second).state, { type: 'tick', now: 200 });
    assert.equal(takeover.state.role, 'master');
    assert.deepEqual(types(takeover), ['advert:90', 'acquire']);
  });

  it('a recovered peer waits out the hold-down before competing, and a relapse restarts it', () => {
    const c = config('lb-01');
    const steps = run(c, [
      { type: 'start', now: 0, healthy: false },
      { type: 'health', now: 100, healthy: true },
      { type: 'tick', now: 250 },
      { type: 'health', now: 260, healthy: false },
      { type: 'health', now: 270, healthy: true },
      { type: 'tick', now: 400 },
    ]);
    assert.equal(steps[2].state.role, 'fault', 'still in hold-down at 250');
    assert.equal(steps[5].state.role, 'fault', 'relapse at 260 restarted the hold-down');
    assert.equal(nextDeadline(c, steps[5].state), 470);
    const back = step(c, steps[5].state, { type: 'tick', now: 470 });
    assert.equal(back.state.role, 'backup');
    assert.match(back.transition!.reason, /healthy again for 200 ms/);
  });

  it('the holder is forgotten when its adverts stop, while in fault', () => {
    const c = config('lb-02');
    const steps = run(c, [{ type: 'start', now: 0, healthy: false }, advert(100, 'lb-01')]);
    const deadline = nextDeadline(c, last(steps).state)!;
    assert.equal(deadline, 100 + masterDownIntervalMs(90, 100));
    assert.equal(step(c, last(steps).state, { type: 'tick', now: deadline }).state.holder, undefined);
  });

  it('a master keeps a steady cadence even when ticks are late', () => {
    const c = config('lb-01');
    const steps = run(c, [{ type: 'start', now: 0, healthy: true }, { type: 'tick', now: 361 }, { type: 'tick', now: 470 }]);
    assert.equal(last(steps).state.nextAdvertAt, 561);
  });

  it('ignores its own adverts and events before start', () => {
    const c = config('lb-01');
    assert.equal(step(c, initialState(c), advert(0, 'lb-02')).state.role, 'init');
    const backup = run(c, [{ type: 'start', now: 0, healthy: true }]);
    assert.deepEqual(step(c, last(backup).state, advert(10, 'lb-01')).state, last(backup).state);
  });
});
