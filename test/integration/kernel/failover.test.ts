// alone: measures cut-offs and lost connections in milliseconds: no other test shares the CPU (test/run.sh)
// Established connections survive the loss of an LB host (issue 11): two serve hosts in kernel mode with
// the VIP keep their flow state in step with conntrackd; long-lived streams go on across a SIGKILL of the
// holder, a cut of its link and a planned stop; new connections are cut off no longer than the VIP's own
// failover. Figures with sync off are in BENCHMARKS.md (npm run bench:failover).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { canUseNamespaces, pathWithout } from '../../helpers/lab.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import { FailoverLab, type FaultResult } from './failover-lab.js';

/** The VIP's own bar (issue 4): after a SIGKILL new connections work again within 3 × 100 ms advertisements + skew. */
const CUT_OFF_BAR_MS = 500;
/** The sync may add this much to the VIP's own move (commit before the address goes up); it measures a few ms. */
const SYNC_ALLOWANCE_MS = 200;
const STREAMS = 4;

describe('stateful failover: flows survive the loss of the holder (namespaces, conntrackd)', { timeout: 240_000 }, () => {
  let f: FailoverLab | undefined;
  let ok = false;
  const results: FaultResult[] = [];

  before(async () => {
    ok = (await canUseNamespaces()) && (await hasCommand('nft')) && (await hasCommand('conntrack')) && (await hasCommand('conntrackd'));
    if (ok) f = await FailoverLab.create({ flows: true, consistentHash: true });
  });
  after(async () => {
    for (const r of results) process.stdout.write(`# ${r.fault}: ${r.survived}/${r.streams} streams survived, longest pause ${r.longestPauseMs} ms, new-connection cut-off ${r.cutOffMs} ms (${r.failedProbes} failed probes), VIP added after ${r.vipAddedMs ?? '-'} ms\n`);
    await f?.stopClients();
    await f?.cleanup();
  });
  const need = (t: { skip(message?: string): void }) => requireOrSkip(t, ok, 'needs root, `ip netns`, nft, conntrack and conntrackd');

  const check = (r: FaultResult, bar?: number) => {
    results.push(r);
    assert.equal(r.survived, r.streams, `${r.fault}: every stream survives (${JSON.stringify(r)})`);
    // Not worse than the VIP's own failover: the cut-off ends soon after the new holder added the VIP.
    if (r.cutOffMs > 0) assert.ok(r.vipAddedMs !== undefined && r.cutOffMs <= r.vipAddedMs + SYNC_ALLOWANCE_MS, `${r.fault}: new connections back ${r.cutOffMs} ms after the fault, the VIP moved after ${r.vipAddedMs} ms`);
    if (bar !== undefined) assert.ok(r.cutOffMs <= bar, `${r.fault}: new connections back within ${bar} ms (${r.cutOffMs} ms)`);
  };

  it('two peers elect lb-01, the streams open, and lb-02 holds their flow state', async (t) => {
    if (!need(t)) return;
    await f!.startServe('lb-01');
    await f!.waitForHolder('lb-01');
    await f!.startServe('lb-02');
    f!.startClients(STREAMS, 200_000);
    await waitFor(() => f!.streams.every((s) => s.echoes().length >= 3), 10_000);
    await f!.waitSynced('lb-02', STREAMS);
  });

  it('SIGKILL of everything on the holder: every stream goes on through lb-02', async (t) => {
    if (!need(t)) return;
    check(await f!.across('SIGKILL of the holder', async () => {
      await f!.killHost('lb-01');
      await f!.waitForHolder('lb-02');
    }), CUT_OFF_BAR_MS);
    // The host comes back (as systemd would restart it) as backup, and learns the flows from lb-02.
    await f!.startServe('lb-01');
    await f!.waitSynced('lb-01', STREAMS);
    await f!.waitForRole('lb-01', 'backup');
  });

  it('the holder\'s link is cut: every stream goes on through lb-01', async (t) => {
    if (!need(t)) return;
    try {
      check(await f!.across('link of the holder cut', async () => {
        await f!.lab.setLink('lb-02', 'lan', false);
        await f!.waitForHolder('lb-01').catch(async () => {
          // lb-02 cannot hear anything: it keeps the address on its cut link; only lb-01's role matters.
          const holders = await f!.holders();
          assert.ok(holders.includes('lb-01'), `holders: ${holders.join(', ')}`);
        });
      }));
    } finally {
      await f!.lab.setLink('lb-02', 'lan', true);
    }
    await f!.waitForHolder('lb-01');
    await f!.waitSynced('lb-02', STREAMS);
    // Its checks failed while it was cut off: it is a backup again once they pass `rise` times.
    await f!.waitForRole('lb-02', 'backup');
  });

  it('planned stops of the holder, three in turn: every stream goes on, new connections are not cut off', async (t) => {
    if (!need(t)) return;
    // Three, because what goes wrong here goes wrong in some handovers only. A new connection whose SYN crosses the
    // instant the neighbours follow the new holder's gratuitous ARP (the client still to the old host, the server
    // already to the new one) is reset: about one planned stop in fifty here, one connection (docs/stateful-failover.md).
    // When the neighbours were split for arping's start-up time instead, one planned stop in ten lost connections.
    let [holder, other] = ['lb-01', 'lb-02'];
    let failed = 0;
    for (let round = 1; round <= 3; round++) {
      if (round > 1) {
        // The host stopped last comes back (as systemd would start it) as backup with the flows.
        await f!.serves.get(other)!.exited;
        await f!.startServe(other);
        await f!.waitSynced(other, STREAMS);
        await f!.waitForRole(other, 'backup');
      }
      const [stopping, taking] = [holder, other];
      const r = await f!.across(`planned stop of the holder ${stopping} (SIGTERM, ${round} of 3)`, async () => {
        f!.serves.get(stopping)!.child.kill('SIGTERM');
        await f!.waitForHolder(taking);
      });
      check(r);
      failed += r.failedProbes;
      [holder, other] = [taking, stopping];
    }
    assert.ok(failed <= 1, `at most one new connection lost in three planned stops, at the instant the neighbours switch (${failed}: ${JSON.stringify(results.slice(-3))})`);
  });

  it('/api/status shows the sync: peer reachable, flows replicated, the last commit', async (t) => {
    if (!need(t)) return;
    const status = JSON.parse(await f!.lab.exec('lb-02', [process.execPath, '-e', "fetch('http://127.0.0.1:8404/api/status').then((r) => r.text()).then((t) => process.stdout.write(t))"])) as { vip?: { role: string; sync?: { role: string; running: boolean; flowsLocal: number; commits: number; lastCommit?: { flows: number; ok: boolean } } } };
    const sync = status.vip?.sync;
    assert.equal(status.vip?.role, 'master');
    assert.equal(sync?.role, 'primary');
    assert.equal(sync?.running, true);
    assert.ok((sync?.flowsLocal ?? 0) >= STREAMS, JSON.stringify(sync));
    assert.ok((sync?.commits ?? 0) >= 1, 'lb-02 took over (its serve was restarted before the last planned stop)');
    assert.equal(sync?.lastCommit?.ok, true);
    // conntrackd counts the entries it created; a flow whose packets reached this host first was picked up.
    assert.ok((sync?.lastCommit?.flows ?? 0) >= 1, JSON.stringify(sync?.lastCommit));
  });

  it('clear errors, exit 2: conntrackd missing, a sync link that cannot be set up', async (t) => {
    if (!need(t)) return;
    const bin = await pathWithout('conntrackd');
    t.after(bin.remove);
    const missing = await f!.serveOnce('lb-01', { env: { PATH: bin.path } });
    assert.equal(missing.code, 2, missing.output);
    assert.match(missing.output, /vip\.sync\.flows needs conntrackd, which is not installed/);
    assert.match(missing.output, /fix: apt-get install conntrackd, or set vip\.sync\.flows: false/);
    const badLink = await f!.serveOnce('lb-01', { spec: (s) => ({ ...s, vip: { ...(s.vip as object), sync: { interface: 'nosuch0' } } }) });
    assert.equal(badLink.code, 2, badLink.output);
    assert.match(badLink.output, /conntrackd did not start for the flow sync on nosuch0/);
    for (const run of [missing, badLink]) assert.doesNotMatch(run.output, /\n\s+at /);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
