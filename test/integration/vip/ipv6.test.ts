// alone: measures failover times: no other test shares the CPU (test/run.sh)
// An IPv6 VIP on a real L2 segment made of namespaces: two `serve` peers elect over UDP/IPv6, the holder adds
// the VIP with nodad and announces it with an unsolicited neighbour advertisement (ndptool), and a client's
// neighbour entry follows the VIP to the new holder after a SIGKILL.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { requireOrSkip } from '../../helpers/cli.js';
import { canUseNamespaces } from './topology.js';
import { recoveryMs, Scenario, timeline } from './scenario.js';

const ADVERT_MS = 100;
const PROBE_MS = 10;

async function hasNdptool(): Promise<boolean> {
  try {
    await promisify(execFile)('ndptool', ['--help']);
    return true;
  } catch (error) {
    // ndptool --help exits non-zero; only a missing binary matters.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

describe('IPv6 VIP failover between LB hosts (namespaces)', { timeout: 120_000 }, () => {
  let scenario: Scenario | undefined;
  let ok = false;
  let ndptool = false;

  before(async () => {
    ok = await canUseNamespaces();
    ndptool = await hasNdptool();
    if (ok && ndptool) scenario = await Scenario.create({ lbCount: 2, advertIntervalMs: ADVERT_MS, mode: 'serve', family: 6 });
  });
  after(async () => { await scenario?.cleanup(); });

  const s = () => scenario!;
  const log = (text: string) => process.stdout.write(`# ${text}\n`);
  const ready = (t: { skip(message?: string): void }) => requireOrSkip(t, ok, 'needs root and `ip netns` (network namespaces)')
    && requireOrSkip(t, ndptool, 'needs ndptool (Debian package libndp-tools) for the unsolicited neighbour advertisement');

  it('elects one holder over IPv6, and the client reaches [VIP]:port through it', async (t) => {
    if (!ready(t)) return;
    const holder = await s().startPeers();
    assert.equal(holder, 'lb-01');
    assert.deepEqual(await s().holders(), ['lb-01']);
    const prober = await s().startProber(PROBE_MS, 1500);
    await prober.proc.exited;
    const attempts = prober.attempts();
    assert.ok(attempts.length > 20 && attempts.every((a) => a.ok), `every probe succeeds (${attempts.filter((a) => !a.ok).length} of ${attempts.length} failed: ${attempts.find((a) => !a.ok)?.error})`);
    assert.equal(await s().topology.neighbourMac('client', s().vip), s().topology.host('lb-01').mac);
  });

  it('SIGKILL the holder: the client\'s neighbour entry moves to the new holder and connections resume', async (t) => {
    if (!ready(t)) return;
    const prober = await s().startProber(PROBE_MS, 8000);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await s().topology.kill(s().peers.get('lb-01')!, 'SIGKILL');
    assert.equal(await s().waitForTakeover('lb-01', 3000), 'lb-02');
    const mac = await s().topology.waitForNeighbourMac('client', s().vip, s().topology.host('lb-02').mac, 1500);
    assert.equal(mac, s().topology.host('lb-02').mac, 'the client\'s neighbour entry for the VIP carries the new holder\'s MAC');
    await new Promise((r) => setTimeout(r, 500));
    await prober.stop();
    const result = recoveryMs(prober.attempts(), killedAt);
    log(`IPv6 SIGKILL failover: new connections succeed again after ${result.recoveryMs} ms (${result.failures} failed probes)`);
    assert.ok(result.failures > 0, 'the kill was seen by the client');
    assert.ok(result.recoveryMs < 1000, `recovery ${result.recoveryMs} ms < 1 s; probes: ${timeline(prober.attempts(), killedAt)}`);
  });
});
