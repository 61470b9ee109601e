// alone: measures failover times: no other test shares the CPU (test/run.sh)
// Three LB hosts: exactly one VIP holder at every sample over a 60 s steady run, and after a partition between the
// peers (both sides become master) exactly one holder again within about one advertisement interval.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { canUseNamespaces } from './topology.js';
import { Scenario } from './scenario.js';

const ADVERT_MS = 100;
const STEADY_MS = Number(process.env.VIP_STEADY_MS ?? 60_000);

describe('VIP with three LB hosts (namespaces)', { timeout: 180_000 }, () => {
  let scenario: Scenario | undefined;
  let ok = false;
  before(async () => {
    ok = await canUseNamespaces();
    if (ok) scenario = await Scenario.create({ lbCount: 3, advertIntervalMs: ADVERT_MS });
  });
  after(async () => { await scenario?.cleanup(); });
  const s = () => scenario!;
  const log = (text: string) => process.stdout.write(`# ${text}\n`);

  it(`exactly one holder at every sample over ${STEADY_MS / 1000} s, and every connection succeeds`, async (t) => {
    if (!requireOrSkip(t, ok, 'needs root and `ip netns`')) return;
    assert.equal(await s().startPeers(), 'lb-01');
    // Transitions into or out of master: a backup that briefly goes to fault (its own health check
    // hiccups on a loaded machine) does not move the VIP and is health tracking doing its job.
    const transitions = () => s().lbs.map((name) => s().peers.get(name)!.lines.filter((l) => l.json?.msg === 'vip transition' && (l.json.from === 'master' || l.json.to === 'master')).length);
    const before = transitions();
    const prober = await s().startProber(20, STEADY_MS + 5000, 200);
    const samples: string[][] = [];
    const end = Date.now() + STEADY_MS;
    while (Date.now() < end) {
      samples.push(await s().holders());
      await new Promise((r) => setTimeout(r, 100));
    }
    await prober.stop();
    const bad = samples.filter((h) => h.length !== 1 || h[0] !== 'lb-01');
    const attempts = prober.attempts();
    const failed = attempts.filter((a) => !a.ok);
    log(`steady run: ${samples.length} samples, ${bad.length} without exactly one holder; ${attempts.length} connections, ${failed.length} failed`);
    assert.equal(bad.length, 0, `samples without exactly one holder: ${JSON.stringify(bad.slice(0, 5))}`);
    assert.ok(samples.length > STEADY_MS / 200, `sampled ${samples.length} times`);
    assert.equal(failed.length, 0, `failed connections: ${JSON.stringify(failed.slice(0, 5))}`);
    assert.deepEqual(transitions(), before, 'no peer became or stopped being master during the steady run');
  });

  it('partition: both sides hold the VIP; after healing exactly one holder within one advertisement interval', async (t) => {
    if (!requireOrSkip(t, ok, 'needs root and `ip netns`')) return;
    const topology = s().topology;
    const lb1 = topology.host('lb-01').address;
    const others = ['lb-02', 'lb-03'];
    // Cut lb-01 off from its peers only (the client still reaches everyone).
    const routes = async (op: 'add' | 'del') => {
      for (const name of others) {
        await topology.exec('lb-01', ['ip', 'route', op, 'blackhole', `${topology.host(name).address}/32`]);
        await topology.exec(name, ['ip', 'route', op, 'blackhole', `${lb1}/32`]);
      }
    };
    await routes('add');
    try {
      const deadline = Date.now() + 3000;
      let holders = await s().holders();
      while (holders.length < 2 && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 20)); holders = await s().holders(); }
      assert.deepEqual(holders, ['lb-01', 'lb-02'], 'each side elects its own master (documented in docs/vip.md)');
    } finally {
      await routes('del');
    }
    const healedAt = Date.now();
    const holder = await s().waitForHolder(undefined, 3000);
    const tookMs = Date.now() - healedAt;
    log(`partition healed: one holder (${holder}) after ${tookMs} ms (advertisement interval ${ADVERT_MS} ms)`);
    assert.equal(holder, 'lb-01');
    assert.ok(tookMs <= ADVERT_MS + 150, `one holder ${tookMs} ms after healing (one interval + 150 ms for the address removal and sampling)`);
    const reason = s().peers.get('lb-02')!.lines.filter((l) => l.json?.msg === 'vip transition').at(-1)!.json!.reason;
    assert.match(String(reason), /lb-01 advertises higher priority 100 > 90/);
  });
});
