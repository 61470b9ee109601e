// alone: measures failover times: no other test shares the CPU (test/run.sh)
// BGP end to end: a router namespace running BIRD with ECMP, two LB hosts running the real `serve` with a bgp
// section (each on its own subnet: no shared segment), control-plane stand-ins and a client behind the router.
// Each fault must move new connections to the other host, and connections the router hashes to the host that
// stays must never fail. The cut-off figures per fault, with and without BFD, are in bench/bgp-failover.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { BgpBed, canUseNamespaces, carriers, cutOff, hasBird, sleep, type Attempt, type Lb } from './bed.js';

const HOLD_S = 9;
let bed: BgpBed | undefined;
let ready = false;

before(async () => {
  ready = (await canUseNamespaces()) && (await hasBird());
  if (!ready) return;
  bed = await BgpBed.create({ bfd: true, holdS: HOLD_S });
});

after(async () => { await bed?.cleanup(); });

/** Alive and not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

function failuresOn(attempts: Attempt[]): Attempt[] {
  return attempts.filter((a) => !a.ok);
}

async function startBoth(b: BgpBed): Promise<void> {
  for (const lb of ['lb-01', 'lb-02'] as const) {
    const running = b.serves.get(lb)?.child;
    if (running && running.exitCode === null && running.signalCode === null) continue;
    await b.startServe(lb);
  }
  await b.waitForNextHops(['lb-01', 'lb-02'], 30_000);
}

/**
 * Runs a fault on lb-01 under load: a general prober (every 10 ms, any port) and a prober pinned to ports the
 * router sends to lb-02. Returns both attempt lists and the time of the fault.
 */
async function underLoad(b: BgpBed, fault: () => Promise<void>, settle: () => Promise<void>): Promise<{ at: number; all: Attempt[]; pinned: Attempt[] }> {
  // Mapped each round: the order of the router's next hops (and so the hash split) changes when a host returns.
  await sleep(1000);
  const staying = await b.portsOf('lb-02', 24);
  assert.ok(staying.length >= 8, `found only ${staying.length} client ports hashed to lb-02`);
  const all = await b.prober(10, 30_000, 300);
  const pinned = await b.prober(25, 30_000, 300, staying);
  await sleep(500);
  const at = Date.now();
  await fault();
  await settle();
  await sleep(700);
  const result = { at, all: await all.stop(), pinned: await pinned.stop() };
  // Judged on the ports seen on lb-02 right before the fault (a port whose mapping moved in between proves nothing).
  const confirmed = new Set<number>();
  for (const a of result.pinned.filter((x) => x.start < at)) {
    if (a.ok && a.reply?.endsWith(BgpBed.lbAddress('lb-02'))) confirmed.add(a.localPort!);
    else confirmed.delete(a.localPort!);
  }
  assert.ok(confirmed.size >= 8, `only ${confirmed.size} pinned ports went to lb-02 before the fault`);
  return { ...result, pinned: result.pinned.filter((a) => a.start >= at && confirmed.has(a.localPort!)) };
}

test('BGP: both LB hosts announce the endpoint and carry new connections (ECMP)', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await startBoth(b);
  const status = await b.status('lb-01');
  assert.equal(status.bgp.announced, true);
  assert.equal(status.bgp.healthy, true);
  assert.equal(status.bgp.peers[0].name, 'tor');
  // The session can be a poll (1 s) behind the router's route, and BFD comes up after the session it serves.
  for (let i = 0; i < 50; i++) {
    const p = (await b.status('lb-01')).bgp.peers[0];
    if (p.routeAnnounced === true && p.bfd === 'up') break;
    await sleep(100);
  }
  const peer = (await b.status('lb-01')).bgp.peers[0];
  assert.equal(peer.state, 'established');
  assert.equal(peer.routeAnnounced, true);
  assert.equal(peer.bfd, 'up');
  assert.match(await b.metrics('lb-01'), /cluster_endpoint_bgp_session_up\{peer="tor",address="10\.251\.1\.1"\} 1/);
  assert.match(await b.metrics('lb-01'), /cluster_endpoint_bgp_route_announced\{peer="tor",prefix="10\.251\.100\.1\/32"\} 1/);
  const probe = await b.prober(10, 2000, 500);
  const attempts = await probe.done;
  const byLb = carriers(attempts);
  assert.deepEqual(failuresOn(attempts), [], 'no connection fails while both hosts are up');
  const counts = ['lb-01', 'lb-02'].map((lb) => byLb.get(BgpBed.lbAddress(lb as Lb)) ?? 0);
  const total = counts[0] + counts[1];
  assert.ok(total > 50, `only ${total} connections`);
  for (const count of counts) assert.ok(count > total * 0.2, `ECMP should spread new connections: lb-01 ${counts[0]}, lb-02 ${counts[1]}`);
});

test('BGP: a killed serve takes its BIRD with it, and the router moves traffic at once', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await startBoth(b);
  const serve = b.serves.get('lb-01')!;
  const birdPid = Number(readFileSync(join(b.dir, 'lb-01', 'run', 'bird.pid'), 'utf8'));
  const run = await underLoad(b, async () => { serve.child.kill('SIGKILL'); }, () => b.waitForNextHops(['lb-02'], 15_000));
  for (let i = 0; i < 40 && alive(birdPid); i++) await sleep(50);
  assert.ok(!alive(birdPid), 'bird must die with serve (a speaker that outlives it announces a dead balancer)');
  const cut = cutOff(run.all, run.at);
  assert.deepEqual(failuresOn(run.pinned).map((a) => `${a.start - run.at} ms: port ${a.localPort} ${a.error}`), [], 'connections hashed to lb-02 never fail');
  assert.ok(cut.cutOffMs < 1000, `new connections failed for ${cut.cutOffMs} ms after the kill (${cut.failures} failures)`);
  t.diagnostic(`kill: cut-off ${cut.cutOffMs} ms, ${cut.failures} failed of ${cut.attempts}`);
});

test('BGP: a silent link cut is noticed by BFD, well before the hold time', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await startBoth(b);
  let run;
  try {
    run = await underLoad(b, () => b.cut('lb-01'), () => b.waitForNextHops(['lb-02'], 15_000));
  } finally {
    await b.uncut('lb-01');
  }
  const cut = cutOff(run.all, run.at);
  assert.deepEqual(failuresOn(run.pinned).map((a) => `${a.start - run.at} ms: port ${a.localPort} ${a.error}`), [], 'connections hashed to lb-02 never fail');
  assert.ok(cut.cutOffMs < HOLD_S * 1000 / 3, `new connections failed for ${cut.cutOffMs} ms after the cut: BFD should act long before the ${HOLD_S} s hold time`);
  t.diagnostic(`link cut: cut-off ${cut.cutOffMs} ms, ${cut.failures} failed of ${cut.attempts}`);
});

test('BGP: a planned stop withdraws first, then drains — no new connection fails', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await startBoth(b);
  const serve = b.serves.get('lb-01')!;
  const run = await underLoad(b, async () => { serve.child.kill('SIGTERM'); }, async () => { assert.equal(await serve.exited, 0); });
  assert.deepEqual(failuresOn(run.all), [], 'no new connection fails during a planned stop');
  assert.deepEqual(failuresOn(run.pinned), []);
  const events = serve.lines.filter((l) => l.at >= run.at).map((l) => l.json?.event).filter((e) => e === 'bgp-withdraw' || e === 'bgp-withdrawn' || e === 'stopping' || e === 'stopped');
  assert.deepEqual(events, ['bgp-withdraw', 'bgp-withdrawn', 'stopping', 'stopped'], 'withdraw, wait for the routers, then drain');
  assert.deepEqual(await b.nextHops(), [BgpBed.lbAddress('lb-02')]);
  const onLo = await b.exec('lb-01', ['ip', '-j', 'addr', 'show', 'dev', 'lo']);
  assert.doesNotMatch(onLo, /10\.251\.100\.1/, 'serve takes the endpoint off lo at stop');
});

test('BGP: a host that loses every control-plane node withdraws; it announces again when they are back', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await startBoth(b);
  let run;
  let status;
  try {
    run = await underLoad(b, () => b.isolate('lb-01'), () => b.waitForNextHops(['lb-02'], 15_000));
    status = await b.status('lb-01');
  } finally {
    await b.unisolate('lb-01');
  }
  assert.deepEqual(failuresOn(run.pinned).map((a) => `${a.start - run.at} ms: port ${a.localPort} ${a.error}`), [], 'connections hashed to lb-02 never fail');
  assert.equal(status.bgp.healthy, false);
  assert.equal(status.bgp.announced, false);
  assert.equal(status.bgp.peers[0].state, 'established', 'the session stays up; only the route goes');
  const cut = cutOff(run.all, run.at);
  t.diagnostic(`control plane unreachable: cut-off ${cut.cutOffMs} ms, ${cut.failures} failed of ${cut.attempts}`);
  await b.waitForNextHops(['lb-01', 'lb-02'], 15_000);
});

test('BGP: proxy mode bound to the endpoint itself (serve puts it on lo before binding)', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  const serve = b.serves.get('lb-02')!;
  serve.child.kill('SIGTERM');
  await serve.exited;
  await b.startServe('lb-02', { bind: 'endpoint' });
  await b.waitForNextHops(['lb-01', 'lb-02'], 30_000);
  const status = await b.status('lb-02');
  assert.equal(status.listeners[0].bind, '10.251.100.1');
  const attempts = await (await b.prober(10, 1500, 500)).done;
  assert.deepEqual(failuresOn(attempts), []);
  assert.ok((carriers(attempts).get(BgpBed.lbAddress('lb-02')) ?? 0) > 10, 'lb-02 carries connections on the endpoint it bound');
});

test('BGP: a session that does not come up is shown with BIRD\'s reason; serve keeps serving', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  const serve = b.serves.get('lb-02')!;
  serve.child.kill('SIGTERM');
  await serve.exited;
  await b.startServe('lb-02', { peerAsn: 65099 });
  let peer: Record<string, any> = {};
  for (let i = 0; i < 100; i++) {
    try { peer = (await b.status('lb-02')).bgp.peers[0]; } catch { /* not up yet */ }
    if (peer.lastError) break;
    await sleep(100);
  }
  assert.notEqual(peer.state, 'established');
  assert.match(String(peer.lastError), /Bad peer AS|Connection|Received/);
  assert.equal(peer.routeAnnounced, false);
});

test('BGP: the endpoint already on another interface is an address in use (exit 2, no stack)', { timeout: 30_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  const serve = b.serves.get('lb-02')!;
  serve.child.kill('SIGTERM');
  await serve.exited;
  await b.exec('lb-02', ['ip', 'addr', 'add', '10.251.100.1/32', 'dev', 'eth0']);
  const proc = await b.startServe('lb-02');
  assert.equal(await proc.exited, 2);
  const text = proc.lines.map((l) => l.text).join('\n');
  assert.match(text, /endpoint 10\.251\.100\.1 is already in use on this host \(on eth0\)/);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
});

test('BGP: BIRD missing is a clear error (exit 2, one line, no stack)', { timeout: 30_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  await b.exec('lb-02', ['ip', 'addr', 'flush', 'dev', 'eth0', 'to', '10.251.100.1/32']);
  // A PATH with ip, nice and setpriv but no bird.
  const bin = mkdtempSync(join(tmpdir(), 'cebgp-path-'));
  try {
    for (const tool of ['ip', 'nice', 'setpriv']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
    const proc = await b.startServe('lb-02', { env: { PATH: bin } });
    assert.equal(await proc.exited, 2);
    const text = proc.lines.map((l) => l.text).join('\n');
    assert.match(text, /the BGP speaker "bird" \(BIRD 2\) is not installed/);
    assert.match(text, /apt-get install bird2/);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('BGP: one spec for the fleet (bgp.hosts): each host runs its own router id and ToR, picked by --peer or by its router id', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ready, 'needs root, network namespaces and bird (Debian bird2)')) return;
  const b = bed!;
  for (const lb of ['lb-01', 'lb-02'] as const) {
    const serve = b.serves.get(lb);
    if (serve && serve.child.exitCode === null && serve.child.signalCode === null) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  }
  const spec = join(b.dir, 'fleet.yaml');
  writeFileSync(spec, b.fleetSpecText());
  // One run directory path, a directory of its own on each host (as /run is).
  b.startServeWith('lb-01', spec, ['--peer', 'lb-01'], {}, join(b.dir, 'fleet-run'));
  b.startServeWith('lb-02', spec, [], {}, join(b.dir, 'fleet-run'));
  await b.waitForNextHops(['lb-01', 'lb-02'], 30_000);
  for (const lb of ['lb-01', 'lb-02'] as const) {
    let status = await b.status(lb);
    for (let i = 0; i < 30 && !status.bgp.routerId; i++) { await sleep(100); status = await b.status(lb); }
    assert.equal(status.bgp.routerId, BgpBed.lbAddress(lb), `${lb} runs its own router id`);
    assert.deepEqual(status.bgp.peers.map((p: { name: string; address: string }) => [p.name, p.address]), [['tor', `10.251.${lb === 'lb-01' ? 1 : 2}.1`]]);
  }
});
