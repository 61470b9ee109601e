// alone: measures cut-offs and lost connections in milliseconds: no other test shares the CPU (test/run.sh)
// Two clusters behind one LB host in kernel mode (issue 19 item 11): two `serve` processes, each with its own
// nftables table (named after cluster.name), its own listener port and its own servers, forward side by side;
// restarting, stopping, killing or cleaning up one leaves the other's table and flows alone. A serve that would
// catch another's address and port, or run a cluster already served here, is refused; a table an earlier version
// left (inet cluster_endpoint) is taken over without cutting its flows.
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { canUseNamespaces, type Proc } from '../../helpers/lab.js';
import { adminGet, batch, startStream, type Stream } from '../../helpers/lab-peers.js';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import { KernelLab, PORT } from './lab.js';

const BETA_PORT = 7443;
const CLUSTERS = {
  alpha: { admin: 8404, port: PORT, nodes: ['cp-01', 'cp-02'], preserveClientIp: false },
  beta: { admin: 8405, port: BETA_PORT, nodes: ['cp-03'], preserveClientIp: true },
} as const;
type Cluster = keyof typeof CLUSTERS;

describe('two kernel-mode serves on one LB host (two clusters)', { timeout: 240_000 }, () => {
  let k: KernelLab | undefined;
  let ok = false;
  const serves = new Map<Cluster, Proc>();

  before(async () => {
    ok = (await canUseNamespaces()) && (await hasCommand('nft')) && (await hasCommand('conntrack'));
    if (ok) k = await KernelLab.create();
  });
  after(async () => { await k?.cleanup(); });
  const need = (t: { skip(message?: string): void }) => requireOrSkip(t, ok, 'needs root, `ip netns`, nft (nftables) and conntrack');

  const path = (name: string) => join(k!.dir, `${name}.yaml`);
  /** A spec of one cluster: its own listener port, servers and admin port; the same bind address. */
  async function writeSpec(name: string, cluster: string, port: number, admin: number, nodes: readonly string[], preserveClientIp: boolean): Promise<string> {
    const base = k!.spec({ nodes, balancer: { preserveClientIp, admin: `127.0.0.1:${admin}` } });
    await writeFile(path(name), stringify({ ...base, cluster: { name: cluster }, listeners: [{ name: 'kubernetes', port, targetPort: PORT, targets: 'controlPlane' }] }));
    return path(name);
  }
  async function start(cluster: Cluster): Promise<Proc> {
    const c = CLUSTERS[cluster];
    await writeSpec(cluster, cluster, c.port, c.admin, c.nodes, c.preserveClientIp);
    const proc = k!.lab.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', path(cluster)], { cwd: ROOT, group: true, env: { CLUSTER_ENDPOINT_LOG_LEVEL: 'info' } });
    serves.set(cluster, proc);
    await proc.waitForLine((l) => l.json?.event === 'started', 30_000);
    await waitFor(async () => {
      const status = await adminGet<StatusSnapshot>(k!.lab, 'lb', `http://127.0.0.1:${c.admin}/api/status`).catch(() => undefined);
      return status?.listeners[0].servers.every((s) => s.state === 'up') ?? false;
    }, 10_000, `${cluster}'s servers up`);
    return proc;
  }
  const table = (cluster: string) => k!.table(`cluster_endpoint_${cluster}`);
  /** A table as text without its counters' values (they move with traffic): its rules, maps and marks. */
  const shape = async (cluster: string) => (await table(cluster))?.replace(/packets \d+ bytes \d+/g, '');
  /** Flows conntrack carries to a port of the endpoint, by mark. */
  async function flowsTo(port: number): Promise<string[]> {
    const out = await k!.lab.exec('lb', ['conntrack', '-L', '-p', 'tcp', '--dport', String(port), '-m', '0xcc000000/0xfc000000']).catch(() => '');
    return out.split('\n').filter((l) => /ESTABLISHED/.test(l)).map((l) => /mark=(\d+)/.exec(l)?.[1] ?? '?');
  }
  const servers = (replies: string[]) => [...new Set(replies.map((r) => r.split(' ')[0]))].sort();
  const sources = (replies: string[]) => [...new Set(replies.map((r) => r.split(' ')[1].replace(/:$/, '')))];

  it('both forward at once, each to its own servers, each with its own table and translation', async (t) => {
    if (!need(t)) return;
    await start('alpha');
    await start('beta');
    const alpha = await batch(k!.lab, 'client', k!.endpoint, PORT, 8);
    const beta = await batch(k!.lab, 'client', k!.endpoint, BETA_PORT, 4);
    assert.deepEqual(servers(alpha), ['cp-01', 'cp-02'], alpha.join('\n'));
    assert.deepEqual(servers(beta), ['cp-03'], beta.join('\n'));
    // alpha translates the source of its own flows; beta's keep the client's address (alpha's table leaves them alone).
    assert.deepEqual(sources(alpha), [k!.lab.addressOf('lb', 'back')]);
    assert.deepEqual(sources(beta), [k!.lab.addressOf('client', 'front')]);
    const tables = await k!.lab.exec('lb', ['nft', 'list', 'tables']);
    assert.match(tables, /table inet cluster_endpoint_alpha/);
    assert.match(tables, /table inet cluster_endpoint_beta/);
  });

  it('refused with exit 2 and the reason: a serve on another\'s address and port, a second serve of one cluster', async (t) => {
    if (!need(t)) return;
    const before = { alpha: await shape('alpha'), beta: await shape('beta') };
    await writeSpec('gamma', 'gamma', BETA_PORT, 8406, ['cp-01'], false);
    await writeSpec('alpha-again', 'alpha', 9443, 8407, ['cp-01'], false);
    const [clash, twice] = await Promise.all([k!.cli(['serve', '-c', path('gamma')]), k!.cli(['serve', '-c', path('alpha-again')])]);
    assert.equal(clash.code, 2, clash.output);
    assert.match(clash.output, new RegExp(`listener kubernetes \\(${esc(k!.endpoint)}:${BETA_PORT}\\) is already served on this host by serve pid \\d+ \\(${esc(path('beta'))}\\), through the nftables table inet cluster_endpoint_beta`));
    assert.equal(twice.code, 2, twice.output);
    assert.match(twice.output, /the nftables table inet cluster_endpoint_alpha is in use by serve pid \d+ \(.*alpha\.yaml\): cluster alpha is already served in kernel mode on this host/);
    for (const run of [clash, twice]) assert.doesNotMatch(run.output, /\n\s+at /);
    assert.deepEqual({ alpha: await shape('alpha'), beta: await shape('beta') }, before, 'the refused serves touched neither table');
    assert.equal(await table('gamma'), undefined);
  });

  let onBeta: Stream | undefined;
  it('restarting one (SIGUSR2, then a new serve adopting its table) and stopping it (SIGTERM) leave the other\'s table and flows alone', async (t) => {
    if (!need(t)) return;
    onBeta = startStream(k!.lab, 'client', k!.endpoint, BETA_PORT, { durationMs: 60_000 });
    const onAlpha = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 60_000 });
    await waitFor(async () => onBeta!.echoes().length >= 2 && onAlpha.echoes().length >= 2, 5000, 'both streams echoing');
    const betaTable = await shape('beta');
    const betaFlows = await flowsTo(BETA_PORT);
    const alphaFlows = await flowsTo(PORT);
    assert.equal(betaFlows.length, 1, `beta's stream is one flow: ${betaFlows}`);
    assert.ok(!alphaFlows.some((mark) => betaFlows.includes(mark)), `marks of the two endpoints differ: ${alphaFlows} / ${betaFlows}`);

    const alpha = serves.get('alpha')!;
    alpha.child.kill('SIGUSR2');
    assert.equal(await alpha.exited, 0);
    assert.ok(await table('alpha'), 'alpha\'s table stays for its next serve');
    const restarted = await start('alpha');
    assert.ok(restarted.lines.some((l) => l.json?.event === 'kernel-table' && l.json.adopted === true && /adopted the nftables table inet cluster_endpoint_alpha left by a previous serve/.test(String(l.json.msg))), 'alpha adopted its own table');
    await waitFor(async () => onAlpha.echoes().length >= 4, 5000, 'alpha\'s stream going on');
    assert.equal(onAlpha.error(), undefined, 'a restart cuts nothing');

    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    assert.equal(await table('alpha'), undefined, 'a stop removes alpha\'s table');
    assert.equal(await shape('beta'), betaTable, 'beta\'s table is untouched');
    assert.deepEqual(await flowsTo(BETA_PORT), betaFlows, 'beta\'s flow is still in conntrack');
    const echoed = onBeta.echoes().length;
    await waitFor(async () => onBeta!.echoes().length > echoed + 2, 5000, 'beta\'s stream going on');
    assert.equal(onBeta.error(), undefined);
    assert.deepEqual(servers(await batch(k!.lab, 'client', k!.endpoint, BETA_PORT, 3)), ['cp-03'], 'beta still balances new connections');
    k!.lab.killGroup(onAlpha.proc, 'SIGKILL');
  });

  it('a killed serve\'s table keeps forwarding; cleaning up the other cluster\'s table leaves it; its own cleanup removes it', async (t) => {
    if (!need(t)) return;
    const beta = serves.get('beta')!;
    k!.lab.killGroup(beta, 'SIGKILL');
    await beta.exited;
    const betaTable = await shape('beta');
    assert.ok(betaTable, 'the table outlives its serve');
    const cleanAlpha = await k!.cli(['serve', '--cleanup', '-c', path('alpha')]);
    assert.equal(cleanAlpha.code, 0, cleanAlpha.output);
    assert.match(cleanAlpha.output, /no nftables table inet cluster_endpoint_alpha here/);
    assert.equal(await shape('beta'), betaTable);
    const echoed = onBeta!.echoes().length;
    await waitFor(async () => onBeta!.echoes().length > echoed + 2, 5000, 'beta\'s stream going on');
    assert.equal(onBeta!.error(), undefined, 'fail-static: beta\'s flows go on without its serve, whatever alpha\'s cleanup did');
    // Without a spec, --cleanup says which tables are here and who runs them.
    const noSpec = await k!.cli(['serve', '--cleanup', '-c', path('nowhere')]);
    assert.equal(noSpec.code, 2, noSpec.output);
    assert.match(noSpec.output, /tables of cluster-endpoint here: inet cluster_endpoint_beta \(no serve runs it\)/);
    const cleanBeta = await k!.cli(['serve', '--cleanup', '-c', path('beta')]);
    assert.equal(cleanBeta.code, 0, cleanBeta.output);
    assert.match(cleanBeta.output, /removed the nftables table inet cluster_endpoint_beta and \d+ conntrack flow\(s\)/);
    assert.equal(await table('beta'), undefined);
    assert.deepEqual(await flowsTo(BETA_PORT), [], 'its flows went with it');
    await waitFor(async () => onBeta!.error() !== undefined, 5000, 'beta\'s stream cut by its cleanup');
  });

  it('the table of an earlier version (inet cluster_endpoint) is adopted and replaced by the cluster\'s own, its flows going on', async (t) => {
    if (!need(t)) return;
    const alpha = await start('alpha');
    const stream = startStream(k!.lab, 'client', k!.endpoint, PORT, { durationMs: 60_000 });
    await waitFor(async () => stream.echoes().length >= 2, 5000, 'a stream through alpha');
    k!.lab.killGroup(alpha, 'SIGKILL');
    await alpha.exited;
    // What an earlier version left: the same table under the one name every serve used, swapped in one transaction.
    const legacy = (await table('alpha'))!.replace('table inet cluster_endpoint_alpha', 'table inet cluster_endpoint');
    await k!.lab.exec('lb', ['sh', '-c', `nft -f - <<'EOF'\n${legacy}\ndelete table inet cluster_endpoint_alpha\nEOF`]);
    assert.equal(await table('alpha'), undefined);
    const restarted = await start('alpha');
    assert.ok(restarted.lines.some((l) => /adopted the nftables table inet cluster_endpoint left by a previous serve .* replaced by inet cluster_endpoint_alpha/.test(String(l.json?.msg))), restarted.lines.map((l) => l.text).join('\n'));
    await restarted.waitForLine((l) => l.json?.event === 'kernel-table' && l.json.replaced === 'cluster_endpoint', 15_000);
    assert.equal(await k!.table('cluster_endpoint'), undefined, 'the earlier table is gone');
    assert.ok(await table('alpha'));
    const echoed = stream.echoes().length;
    await waitFor(async () => stream.echoes().length > echoed + 2, 5000, 'the stream going on');
    assert.equal(stream.error(), undefined, 'taking the table over cut nothing');
    assert.deepEqual(servers(await batch(k!.lab, 'client', k!.endpoint, PORT, 6)), ['cp-01', 'cp-02']);
    k!.lab.killGroup(stream.proc, 'SIGKILL');
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    assert.match(await k!.lab.exec('lb', ['nft', 'list', 'tables']), /^$/, 'nothing of ours is left');
  });
});

const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
