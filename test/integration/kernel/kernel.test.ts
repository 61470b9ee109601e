// alone: measures cut-offs and lost connections in milliseconds: no other test shares the CPU (test/run.sh)
// balancer.mode: kernel in network namespaces with real serve processes, real nft and conntrack: the
// kernel forwards, serve decides (issue 10, section 3).
import { strict as assert } from 'node:assert';
import { chmod } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { canUseNamespaces } from '../../helpers/lab.js';
import { batch, startStream, type Stream } from '../../helpers/lab-peers.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import { ADMIN, KernelLab, NODES, PORT } from './lab.js';
import { adminGet } from '../../helpers/lab-peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replies by server name; also checks every reply is a real echo. */
function tally(replies: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const reply of replies) {
    assert.match(reply, /^cp-0\d \S+: b\d+$/, `not an echo: ${reply}`);
    const server = reply.split(' ')[0];
    counts.set(server, (counts.get(server) ?? 0) + 1);
  }
  return counts;
}

describe('kernel data plane (namespaces, nft, conntrack)', { timeout: 300_000 }, () => {
  let k: KernelLab | undefined;
  let ok = false;

  before(async () => {
    ok = (await canUseNamespaces()) && (await hasCommand('nft')) && (await hasCommand('conntrack'));
    if (ok) k = await KernelLab.create();
  });
  after(async () => { await k?.cleanup(); });

  const need = (t: { skip(message?: string): void }) => requireOrSkip(t, ok, 'needs root, `ip netns`, nft (nftables) and conntrack');

  it('balances new connections over the three servers, and the servers see the client\'s own address', async (t) => {
    if (!need(t)) return;
    await k!.writeSpec(k!.spec());
    await k!.startServe();
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
    const replies = await batch(k!.lab, 'client', k!.endpoint, PORT, 30);
    const counts = tally(replies);
    assert.deepEqual([...counts.keys()].sort(), [...NODES], JSON.stringify([...counts]));
    for (const [server, count] of counts) assert.equal(count, 10, `${server}: ${count} of 30 (roundrobin)`);
    const client = k!.lab.addressOf('client', 'front');
    for (const reply of replies) assert.equal(reply.split(' ')[1].replace(/:$/, ''), client, 'preserveClientIp: the server sees the client');
    // The table is ours alone, and no process of ours carries the bytes.
    assert.match(await k!.table() ?? '', /table inet cluster_endpoint_kernel \{/);
  });

  it('status, /api/status and /metrics: the mode, and per server its open flows, connections and bytes', async (t) => {
    if (!need(t)) return;
    const stream = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 4000 });
    await waitFor(() => stream.echoes().length >= 3, 5000);
    const server = stream.server()!;
    const status = await pollStatus(k!, (s) => (s.listeners[0].servers.find((x) => x.name === server)?.activeConnections ?? 0) >= 1);
    assert.equal(status.dataPlane?.mode, 'kernel');
    assert.equal(status.dataPlane?.preserveClientIp, true);
    const listener = status.listeners[0];
    assert.ok(listener.totalConnections >= 31, `totalConnections ${listener.totalConnections}`);
    for (const s of listener.servers) {
      assert.ok(s.totalConnections >= 10, `${s.name} totalConnections ${s.totalConnections}`);
      assert.ok(s.bytesIn > 0 && s.bytesOut > 0, `${s.name} bytes ${s.bytesIn}/${s.bytesOut}`);
    }
    assert.equal(listener.servers.find((x) => x.name === server)!.activeConnections, 1);
    const metrics = await adminGet<string>(k!.lab, 'lb', `${ADMIN}/metrics`);
    assert.match(metrics, new RegExp(`haproxy_server_current_sessions\\{proxy="kubernetes",server="${server}"\\} 1`));
    assert.match(metrics, /haproxy_server_sessions_total\{proxy="kubernetes",server="cp-01"\} \d+/);
    const page = await adminGet<string>(k!.lab, 'lb', `${ADMIN}/?fragment=1`);
    assert.match(page, /kernel, nftables table inet cluster_endpoint_kernel, servers see the client(&#39;|')s address/);
    await stream.proc.exited;
  });

  it('a server killed: marked down, no new flows to it, its established stream is reset; restarted: back in rotation', async (t) => {
    if (!need(t)) return;
    const streams = NODES.map(() => startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 20_000 }));
    await waitFor(() => streams.every((s) => s.echoes().length >= 2), 5000);
    const onCp02 = streams.find((s) => s.server() === 'cp-02');
    assert.ok(onCp02, `no stream on cp-02: ${streams.map((s) => s.server()).join(',')}`);
    k!.lab.killGroup(k!.echoes.get('cp-02')!, 'SIGKILL');
    await k!.echoes.get('cp-02')!.exited;
    await k!.waitForStates({ 'cp-02': 'down' }, 5000);
    // onMarkedDown: close — conntrack forgets the flow, the client's next packet gets a reset.
    await waitFor(() => onCp02.error() !== undefined, 5000);
    assert.match(onCp02.error()!, /ECONNRESET|closed/);
    for (const other of streams.filter((s) => s !== onCp02)) assert.equal(other.error(), undefined, 'streams to the other servers go on');
    const replies = await batch(k!.lab, 'client', k!.endpoint, PORT, 20);
    assert.deepEqual([...tally(replies).keys()].sort(), ['cp-01', 'cp-03'], 'no new flow to the dead server');
    await k!.startEcho('cp-02');
    await k!.waitForStates({ 'cp-02': 'up' }, 5000);
    assert.ok(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 9)).has('cp-02'), 'back in rotation');
    for (const s of streams) k!.lab.killGroup(s.proc, 'SIGKILL');
  });

  it('drain: no new flows at once; an established stream goes on until the deregistration delay, then it is reset', async (t) => {
    if (!need(t)) return;
    let stream: Stream | undefined;
    for (let i = 0; i < 4 && stream?.server() !== 'cp-01'; i++) {
      if (stream) k!.lab.killGroup(stream.proc, 'SIGKILL');
      stream = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 20_000 });
      await waitFor(() => stream!.echoes().length >= 1, 5000);
    }
    assert.equal(stream!.server(), 'cp-01');
    const drain = await k!.cli(['drain', 'cp-01', '--admin', ADMIN]);
    assert.equal(drain.code, 0, drain.output);
    const drainedAt = Date.now();
    assert.ok(!tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 12)).has('cp-01'), 'a drained server gets no new flow');
    await sleep(Math.max(0, 1500 - (Date.now() - drainedAt)));
    assert.equal(stream!.error(), undefined, 'still flowing before the 2s delay');
    const before = stream!.echoes().length;
    await waitFor(() => stream!.error() !== undefined, 4000);
    assert.ok(Date.now() - drainedAt >= 1900, 'cut at the delay, not before');
    assert.ok(stream!.echoes().length > before, 'kept echoing while draining');
    const undrain = await k!.cli(['undrain', 'cp-01', '--admin', ADMIN]);
    assert.equal(undrain.code, 0, undrain.output);
    assert.ok(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 9)).has('cp-01'));
  });

  it('whenAllDown: fail-open keeps sending to every server when all checks fail; reject refuses', async (t) => {
    if (!need(t)) return;
    // The servers drop the balancer's own checks (from its back address); clients (their own address) still get through.
    const lb = k!.lab.addressOf('lb', 'back');
    for (const node of NODES) {
      await k!.lab.exec(node, ['nft', 'add', 'table', 'ip', 'blockchecks']);
      await k!.lab.exec(node, ['nft', 'add', 'chain', 'ip', 'blockchecks', 'in', '{ type filter hook input priority 0; }']);
      await k!.lab.exec(node, ['nft', 'add', 'rule', 'ip', 'blockchecks', 'in', 'ip', 'saddr', lb, 'tcp', 'dport', String(PORT), 'drop']);
    }
    try {
      await k!.waitForStates({ 'cp-01': 'down', 'cp-02': 'down', 'cp-03': 'down' }, 10_000);
      assert.equal(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 6)).size, 3, 'fail-open (the default): every server still gets flows');
      await k!.writeSpec(k!.spec({ balancer: { whenAllDown: 'reject' } }));
      k!.serve!.child.kill('SIGHUP');
      await k!.serve!.waitForLine((l) => l.json?.event === 'reload' && l.json.ok === true, 10_000);
      const refused = await batch(k!.lab, 'client', k!.endpoint, PORT, 4);
      for (const reply of refused) assert.match(reply, /^ERR ECONNREFUSED/);
      const status = await pollStatus(k!, (st) => st.listeners[0].failedConnections >= 4);
      assert.ok(status.listeners[0].failedConnections >= 4, 'counted as failed');
    } finally {
      for (const node of NODES) await k!.lab.exec(node, ['nft', 'delete', 'table', 'ip', 'blockchecks']).catch(() => undefined);
      await k!.writeSpec(k!.spec());
      k!.serve!.child.kill('SIGHUP');
    }
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' }, 10_000);
  });

  it('connections from the balancer host itself to the endpoint are balanced too', async (t) => {
    if (!need(t)) return;
    const replies = await batch(k!.lab, 'lb', k!.endpoint, PORT, 9);
    assert.equal(tally(replies).size, 3, replies.join('\n'));
  });

  it('a reload that changes the server list changes the rotation; an invalid one keeps the table', async (t) => {
    if (!need(t)) return;
    await k!.writeSpec(k!.spec({ nodes: ['cp-01', 'cp-02'] }));
    k!.serve!.child.kill('SIGHUP');
    await k!.serve!.waitForLine((l) => l.json?.event === 'reload' && l.json.ok === true, 10_000);
    assert.deepEqual([...tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 10)).keys()].sort(), ['cp-01', 'cp-02']);
    const table = await k!.table();
    await k!.writeSpec({ ...k!.spec(), listeners: [{ name: 'kubernetes', port: 70000, targetPort: PORT, targets: 'controlPlane' }] });
    k!.serve!.child.kill('SIGHUP');
    await k!.serve!.waitForLine((l) => l.json?.event === 'reload' && l.json.ok === false, 10_000);
    assert.equal(await k!.table(), table, 'the table is unchanged');
    await k!.writeSpec(k!.spec());
    k!.serve!.child.kill('SIGHUP');
    await k!.waitForStates({ 'cp-03': 'up' }, 10_000);
    assert.equal(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 9)).size, 3);
  });

  it('SIGKILL of serve: an established stream keeps flowing, new connections are still balanced; a new serve adopts the table', async (t) => {
    if (!need(t)) return;
    const stream = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 30_000 });
    await waitFor(() => stream.echoes().length >= 2, 5000);
    const totalBefore = (await k!.status()).listeners[0].totalConnections;
    k!.lab.killGroup(k!.serve!, 'SIGKILL');
    await k!.serve!.exited;
    const killedAt = Date.now();
    assert.ok(await k!.table(), 'the table outlives serve');
    await waitFor(() => stream.echoes().some((e) => e.at > killedAt + 1000), 5000);
    assert.equal(stream.error(), undefined, 'the stream never broke');
    assert.equal(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 12)).size, 3, 'new connections still balanced over the last membership');
    // A new serve adopts the table (counters and flows go on) and replaces it once its checks have a verdict.
    const serve = await k!.startServe();
    await serve.waitForLine((l) => l.json?.event === 'kernel-table' && l.json.adopted === true, 5000);
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
    const after = await pollStatus(k!, (s) => s.listeners[0].totalConnections >= totalBefore + 12);
    assert.ok(after.listeners[0].totalConnections >= totalBefore + 12, 'counters carried over the restart');
    assert.equal(tally(await batch(k!.lab, 'client', k!.endpoint, PORT, 9)).size, 3);
    assert.equal(stream.error(), undefined, 'the stream is still flowing after the restart');
    k!.lab.killGroup(stream.proc, 'SIGKILL');
  });

  it('SIGUSR2 (restart, upgrade) leaves the table and the flows; SIGTERM drains and removes the table', async (t) => {
    if (!need(t)) return;
    const stream = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 30_000 });
    await waitFor(() => stream.echoes().length >= 2, 5000);
    k!.serve!.child.kill('SIGUSR2');
    assert.equal(await k!.serve!.exited, 0);
    assert.ok(await k!.table(), 'the table stays for the next serve');
    const exitedAt = Date.now();
    await waitFor(() => stream.echoes().some((e) => e.at > exitedAt + 500), 5000);
    assert.equal(stream.error(), undefined);
    await k!.startServe();
    k!.lab.killGroup(stream.proc, 'SIGKILL');
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
    k!.serve!.child.kill('SIGTERM');
    assert.equal(await k!.serve!.exited, 0);
    assert.equal(await k!.table(), undefined, 'a graceful stop removes the table');
  });

  it('serve --cleanup removes a table a killed serve left behind', async (t) => {
    if (!need(t)) return;
    await k!.startServe();
    k!.lab.killGroup(k!.serve!, 'SIGKILL');
    await k!.serve!.exited;
    assert.ok(await k!.table());
    const cleanup = await k!.cli(['serve', '--cleanup', '-c', k!.specPath]);
    assert.equal(cleanup.code, 0, cleanup.output);
    assert.match(cleanup.output, /removed the nftables table inet cluster_endpoint_kernel and \d+ conntrack flow/);
    assert.equal(await k!.table(), undefined);
    const again = await k!.cli(['serve', '--cleanup', '-c', k!.specPath]);
    assert.equal(again.code, 0);
    assert.match(again.output, /no nftables table/);
  });

  it('preserveClientIp: false translates the source too: servers see the balancer', async (t) => {
    if (!need(t)) return;
    await k!.writeSpec(k!.spec({ balancer: { preserveClientIp: false } }));
    await k!.startServe();
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
    const replies = await batch(k!.lab, 'client', k!.endpoint, PORT, 6);
    const lb = k!.lab.addressOf('lb', 'back');
    for (const reply of replies) assert.equal(reply.split(' ')[1].replace(/:$/, ''), lb);
    k!.serve!.child.kill('SIGTERM');
    assert.equal(await k!.serve!.exited, 0);
  });

  it('IPv6: servers by IPv6 address, a client over IPv6, its address kept', async (t) => {
    if (!need(t)) return;
    await k!.writeSpec(k!.spec({ family: 6 }));
    await k!.startServe();
    await k!.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
    const replies = await batch(k!.lab, 'client', k!.endpoint6, PORT, 9);
    const counts = tally(replies);
    assert.equal(counts.size, 3, replies.join('\n'));
    for (const reply of replies) assert.equal(reply.split(' ')[1].replace(/:$/, ''), k!.lab.address6Of('client', 'front'));
    k!.serve!.child.kill('SIGTERM');
    assert.equal(await k!.serve!.exited, 0);
    assert.equal(await k!.table(), undefined);
  });

  it('clear errors, exit 2, no stack trace: IP forwarding off, a bind that is not local, nft missing, no CAP_NET_ADMIN', async (t) => {
    if (!need(t)) return;
    await k!.writeSpec(k!.spec());
    await k!.lab.sysctl('lb', 'net.ipv4.ip_forward=0');
    let off: Awaited<ReturnType<KernelLab['cli']>>;
    try {
      off = await k!.cli(['serve', '-c', k!.specPath]);
      assert.equal(off.code, 2, off.output);
      assert.match(off.output, /IP forwarding is off \(net\.ipv4\.ip_forward = 0\)/);
      assert.match(off.output, /fix: sysctl -w net\.ipv4\.ip_forward=1/);
    } finally {
      await k!.lab.sysctl('lb', 'net.ipv4.ip_forward=1');
    }
    await k!.writeSpec(k!.spec({ balancer: { bind: '10.254.254.254' } }));
    const notLocal = await k!.cli(['serve', '-c', k!.specPath]);
    assert.equal(notLocal.code, 2, notLocal.output);
    assert.match(notLocal.output, /balancer\.bind 10\.254\.254\.254 is not an address of this host/);
    await k!.writeSpec(k!.spec());
    await chmod(k!.dir, 0o755);
    await chmod(k!.specPath, 0o644);
    const noNft = await k!.cli(['serve', '-c', k!.specPath], { prefix: ['env', 'PATH=/nonexistent'] });
    assert.equal(noNft.code, 2, noNft.output);
    assert.match(noNft.output, /needs `nft`, which is not installed/);
    const unprivileged = await k!.cli(['serve', '-c', k!.specPath], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'] });
    assert.equal(unprivileged.code, 2, unprivileged.output);
    assert.match(unprivileged.output, /needs root or CAP_NET_ADMIN/);
    for (const run of [off, notLocal, noNft, unprivileged]) assert.doesNotMatch(run.output, /\n\s+at /);
    assert.equal(await k!.table(), undefined, 'nothing was left behind');
  });
});

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}

async function pollStatus(k: KernelLab, predicate: (s: Awaited<ReturnType<KernelLab['status']>>) => boolean, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await k.status();
    if (predicate(status)) return status;
    if (Date.now() > deadline) throw new Error(`status never matched: ${JSON.stringify(status.listeners[0].servers.map((s) => [s.name, s.activeConnections, s.totalConnections]))}`);
    await sleep(300);
  }
}

export type { Stream };
