// alone: measures cut-offs and lost connections in milliseconds: no other test shares the CPU (test/run.sh)
// Kernel mode behind BGP (issue 20): two LB hosts running `serve` with balancer.mode: kernel and a bgp section,
// a router spreading clients over them (ECMP), the control plane behind the router (test/integration/bgp/bed.ts).
// The kernel carries the connections on both hosts; a control-plane node SIGKILLed costs no connection on either
// host (passive health in the kernel path); a killed serve takes BIRD with it, the router moves new connections
// to the other host, and the table it leaves keeps forwarding (fail-static).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { BgpBed, canUseNamespaces, carriers, cutOff, hasBird, sleep, type Attempt, type Lb } from '../bgp/bed.js';
import { hasCommand } from '../render-bare-metal/netns.js';

let bed: BgpBed | undefined;
let ready = false;

before(async () => {
  ready = (await canUseNamespaces()) && (await hasBird()) && (await hasCommand('nft')) && (await hasCommand('conntrack'));
  if (ready) bed = await BgpBed.create({ bfd: true, holdS: 9 });
});

after(async () => { await bed?.cleanup(); });

const failed = (attempts: Attempt[]) => attempts.filter((a) => !a.ok).map((a) => `${a.start}: ${a.error}`);

async function allUp(b: BgpBed, lb: Lb, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await b.status(lb).catch(() => undefined);
    const servers = (status?.listeners?.[0]?.servers ?? []) as Array<{ state: string }>;
    if (servers.length === 3 && servers.every((s) => s.state === 'up')) return;
    if (Date.now() > deadline) throw new Error(`${lb}: servers not all up: ${JSON.stringify(servers)}`);
    await sleep(100);
  }
}

test('kernel mode with BGP: ECMP over two kernel data planes; a dead node costs no connection; a killed serve hands over to the router', { timeout: 150_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces, bird (Debian bird2), nft and conntrack')) return;
  const b = bed!;
  for (const lb of ['lb-01', 'lb-02'] as const) await b.startServe(lb, { kernel: true });
  await b.waitForNextHops(['lb-01', 'lb-02'], 30_000);
  for (const lb of ['lb-01', 'lb-02'] as const) {
    await allUp(b, lb);
    const status = await b.status(lb);
    assert.equal(status.dataPlane.mode, 'kernel');
    assert.equal(status.bgp.announced, true);
    assert.match(await b.exec(lb, ['nft', 'list', 'table', 'inet', 'cluster_endpoint_bgp_test']), /chain nat_prerouting/);
  }

  // 1. Both hosts forward new connections in the kernel, the router spreading them.
  const spread = await (await b.prober(10, 2000, 1000)).done;
  assert.deepEqual(failed(spread), []);
  const byLb = carriers(spread);
  const counts = (['lb-01', 'lb-02'] as const).map((lb) => byLb.get(BgpBed.lbAddress(lb)) ?? 0);
  for (const count of counts) assert.ok(count > (counts[0] + counts[1]) * 0.2, `ECMP should spread new connections: ${counts.join(' / ')}`);

  // 2. A control-plane node SIGKILLed under load: both hosts hide it from the clients.
  const probe = await b.prober(10, 3000, 8000);
  await sleep(800);
  const node = b.controlPlane.get('cp-02')!;
  node.child.kill('SIGKILL');
  await node.exited;
  const diedAt = Date.now();
  const attempts = await probe.done;
  // A connection the dying node's socket completed (accepted, its line not yet written) is reset by the node's
  // kernel: no balancer in the kernel can replay it. From the moment the process is gone, none may fail.
  const lost = attempts.filter((a) => !a.ok && !(a.connectedAt !== undefined && a.connectedAt <= diedAt));
  assert.deepEqual(lost.map((a) => `${a.error}: started ${a.start - diedAt} ms after the node died${a.connectedAt !== undefined ? `, connected ${a.connectedAt - diedAt} ms after` : ''}`), [], 'no connection refused or reset');
  const slow = attempts.filter((a) => a.end - a.start >= 500);
  assert.ok(slow.length >= 1, 'no connection met the dead node (the test proves nothing)');
  for (const a of slow) assert.doesNotMatch(a.reply ?? '', /^cp-02 /, 'a connection that met the dead node completes on another one');
  for (const lb of ['lb-01', 'lb-02'] as const) {
    const cp02 = ((await b.status(lb)).listeners[0].servers as Array<{ name: string; state: string }>).find((s) => s.name === 'cp-02');
    assert.equal(cp02?.state, 'down', `${lb} marked cp-02 down`);
  }
  await b.startControlPlane('cp-02');
  for (const lb of ['lb-01', 'lb-02'] as const) await allUp(b, lb);

  // 3. serve on lb-01 SIGKILLed: its BIRD dies with it, the router withdraws lb-01, and lb-01's table stays.
  const during = await b.prober(10, 4000, 2000);
  await sleep(500);
  const at = Date.now();
  b.serves.get('lb-01')!.child.kill('SIGKILL');
  await b.waitForNextHops(['lb-02'], 15_000);
  const run = await during.done;
  const cut = cutOff(run, at);
  t.diagnostic(`serve killed on lb-01: cut-off ${cut.cutOffMs} ms, ${cut.failures} failed of ${cut.attempts}`);
  assert.ok(cut.cutOffMs < 1000, `new connections failed for ${cut.cutOffMs} ms after the kill`);
  assert.match(await b.exec('lb-01', ['nft', 'list', 'table', 'inet', 'cluster_endpoint_bgp_test']), /chain nat_prerouting/, 'the table outlives serve');
  const after = await (await b.prober(10, 1000, 1000)).done;
  assert.deepEqual(failed(after), []);
  assert.deepEqual([...carriers(after).keys()], [BgpBed.lbAddress('lb-02')]);
});
