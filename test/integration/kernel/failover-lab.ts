// Two LB hosts running serve in kernel mode with the VIP and flow sync, three control-plane stand-ins and a
// client, all on one segment (the guide's topology: VIP, LB hosts and nodes in one subnet), with watch-like
// streams and a prober that opens a new connection every 10 ms. Shared by the test and the bench.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, ROOT } from '../../helpers/cli.js';
import { Lab, type Proc } from '../../helpers/lab.js';
import { startEcho, startStream, type Stream } from '../../helpers/lab-peers.js';

export const PORT = 6443;
export const LBS = ['lb-01', 'lb-02'] as const;
const NODES = ['cp-01', 'cp-02', 'cp-03'] as const;
const KEY = 'stateful-failover-test-key';

export interface FaultResult {
  fault: string;
  /** Streams that kept echoing after the fault, of all. */
  survived: number;
  streams: number;
  /** Longest gap between two echoes of a stream across the fault, ms. */
  longestPauseMs: number;
  /** From the fault to the first successful new connection after the last failed one, ms (0: none failed). */
  cutOffMs: number;
  failedProbes: number;
  /** From the fault to the new holder's "vip added" (the VIP's own failover), ms; undefined when no host took it. */
  vipAddedMs?: number;
  /** How the streams that did not survive ended (ECONNRESET, closed, …) and when, ms after the fault. */
  lost: string[];
}

export class FailoverLab {
  readonly serves = new Map<string, Proc>();
  streams: Stream[] = [];
  prober: Proc | undefined;

  private constructor(readonly lab: Lab, readonly dir: string, readonly options: { flows: boolean; consistentHash: boolean }) {}

  static async create(options: { flows: boolean; consistentHash: boolean }): Promise<FailoverLab> {
    const lab = await Lab.create({ segments: { lan: 1 }, hosts: { client: { lan: 2 }, 'lb-01': { lan: 5 }, 'lb-02': { lan: 6 }, 'cp-01': { lan: 11 }, 'cp-02': { lan: 12 }, 'cp-03': { lan: 13 } } }, 'cesync');
    const dir = await mkdtemp(join(tmpdir(), 'ce-sync-'));
    const f = new FailoverLab(lab, dir, options);
    try {
      for (const lb of LBS) await lab.sysctl(lb, 'net.ipv4.ip_forward=1');
      for (const node of NODES) await startEcho(lab, node, node, PORT).waitForLine((l) => l.text === 'listening');
      await writeFile(join(dir, 'endpoint.yaml'), stringify(f.spec()));
    } catch (error) {
      await f.cleanup();
      throw error;
    }
    return f;
  }

  get vip(): string {
    return `${this.lab.segments.get('lan')!.subnet}.100`;
  }

  spec(): Record<string, unknown> {
    const lan = (host: string) => this.lab.addressOf(host);
    return {
      cluster: { name: 'sync' },
      endpoint: this.vip,
      controlPlane: NODES.map((name) => ({ name, address: lan(name) })),
      listeners: [{ name: 'kubernetes', port: PORT, targetPort: PORT, targets: 'controlPlane' }],
      healthCheck: { interval: '500ms', fastInterval: '200ms', timeout: '300ms', healthyThreshold: 1, unhealthyThreshold: 2 },
      deregistrationDelay: '1s',
      balancer: { mode: 'kernel', bind: this.vip, admin: '127.0.0.1:8404', watch: false },
      vip: {
        address: this.vip, prefixLength: 24, interface: 'eth0', advertInterval: '100ms', preempt: false, authKey: KEY,
        peers: [{ name: 'lb-01', address: lan('lb-01'), priority: 150 }, { name: 'lb-02', address: lan('lb-02'), priority: 100 }],
        sync: { flows: this.options.flows, consistentHash: this.options.consistentHash },
      },
    };
  }

  async startServe(lb: string): Promise<Proc> {
    const runDir = join(this.dir, lb);
    await mkdir(runDir, { recursive: true });
    const proc = this.lab.spawn(lb, [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', join(this.dir, 'endpoint.yaml'), '--peer', lb], { cwd: ROOT, group: true, env: { RUNTIME_DIRECTORY: runDir, CLUSTER_ENDPOINT_LOG_LEVEL: 'info' } });
    this.serves.set(lb, proc);
    await proc.waitForLine((l) => l.json?.event === 'started', 30_000);
    return proc;
  }

  /** Runs serve once on an LB host (expected to fail at start); its exit code and output. */
  async serveOnce(lb: string, options: { env?: Record<string, string>; spec?: (spec: Record<string, unknown>) => Record<string, unknown> } = {}): Promise<{ code: number | null; output: string }> {
    const runDir = join(this.dir, `${lb}-once`);
    await mkdir(runDir, { recursive: true });
    const specPath = join(this.dir, 'once.yaml');
    await writeFile(specPath, stringify((options.spec ?? ((s) => s))(this.spec())));
    const proc = this.lab.spawn(lb, ['env', ...Object.entries({ RUNTIME_DIRECTORY: runDir, ...options.env }).map(([k, v]) => `${k}=${v}`), process.execPath, '--import', 'tsx', CLI, 'serve', '-c', specPath, '--peer', lb], { cwd: ROOT, group: true });
    const code = await proc.exited;
    return { code, output: proc.lines.map((l) => l.text).join('\n') };
  }

  /** Which LB host has the VIP on its interface. */
  async holders(): Promise<string[]> {
    const out: string[] = [];
    for (const lb of LBS) {
      const addresses = await this.lab.exec(lb, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
      if (addresses.includes(` ${this.vip}/`)) out.push(lb);
    }
    return out;
  }

  async waitForHolder(lb: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const holders = await this.holders();
      if (holders.length === 1 && holders[0] === lb) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tails = [...this.serves].map(([name, proc]) => `--- ${name} (exit ${proc.child.exitCode ?? proc.child.signalCode ?? 'running'}):\n${proc.lines.slice(-12).map((l) => l.text).join('\n')}`).join('\n');
    throw new Error(`${lb} did not become the only VIP holder (holders: ${(await this.holders()).join(', ') || 'none'})\n${tails}`);
  }

  /** Waits until a host's VIP manager is in `role` (a backup that is still in fault cannot take over). */
  async waitForRole(lb: string, role: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.lab.exec(lb, [process.execPath, '-e', "fetch('http://127.0.0.1:8404/api/status').then((r) => r.json()).then((s) => process.stdout.write(String(s.vip?.role)))"]).catch((error: Error) => error.message);
      if (last === role) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${lb} did not reach VIP role ${role} (last: ${last})`);
  }

  /** Waits until the backup's conntrackd holds the primary's flows (its external cache has them all). */
  async waitSynced(backup: string, flows: number, timeoutMs = 10_000): Promise<void> {
    const runDir = join(this.dir, backup, `conntrackd-sync-${backup}`);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.lab.exec(backup, ['conntrackd', '-C', join(runDir, 'conntrackd.conf'), '-s']).catch((e: Error) => e.message);
      const external = /cache external:\s*\ncurrent active connections:\s+(\d+)/.exec(last);
      if (external && Number(external[1]) >= flows) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${backup} did not receive ${flows} flow(s) from its peer:\n${last}`);
  }

  startClients(streams: number, durationMs: number): void {
    this.streams = Array.from({ length: streams }, () => startStream(this.lab, 'client', this.vip, PORT, { durationMs }));
    this.prober = this.lab.spawn('client', [process.execPath, '--import', 'tsx', join(ROOT, 'test/integration/vip/prober.ts'), this.vip, String(PORT), '10', String(durationMs), '50', '0'], { cwd: ROOT });
  }

  /** Streams and prober across one fault: apply it, wait for the dust to settle, measure. */
  async across(fault: string, apply: () => Promise<void>, settleMs = 2500): Promise<FaultResult> {
    const at = Date.now();
    await apply();
    await new Promise((r) => setTimeout(r, settleMs));
    const probes = this.prober!.lines.map((l) => l.json).filter((j): j is { start: number; ok: boolean } => j !== undefined && typeof j.start === 'number').filter((p) => p.start >= at);
    const failed = probes.filter((p) => !p.ok);
    const lastFailure = failed.at(-1);
    const recovered = lastFailure ? probes.find((p) => p.ok && p.start > lastFailure.start) : undefined;
    let longestPauseMs = 0;
    let survived = 0;
    for (const stream of this.streams) {
      const echoes = stream.echoes();
      const around = echoes.filter((e) => e.at >= at - 1000);
      for (let i = 1; i < around.length; i++) longestPauseMs = Math.max(longestPauseMs, around[i].at - around[i - 1].at);
      if (stream.error() === undefined && echoes.some((e) => e.at > at + settleMs - 1000)) survived++;
    }
    const added = [...this.serves.values()].flatMap((proc) => proc.lines).filter((l) => l.json?.msg === 'vip added' && Number(l.json.time) >= at).map((l) => Number(l.json!.time) - at);
    return {
      fault, survived, streams: this.streams.length, longestPauseMs, cutOffMs: lastFailure ? (recovered ? recovered.start - at : Number.POSITIVE_INFINITY) : 0, failedProbes: failed.length,
      ...(added.length ? { vipAddedMs: Math.min(...added) } : {}),
      lost: this.streams.filter((st) => st.error() !== undefined).map((st) => `${st.server()}: ${st.error()} after echo ${st.echoes().length} (last ${(st.echoes().at(-1)?.at ?? at) - at} ms)`),
    };
  }

  /** SIGKILL of every process on the holder, then the VIP off its interface (what the unit's ExecStopPost does). */
  async killHost(lb: string): Promise<void> {
    this.lab.killGroup(this.serves.get(lb)!, 'SIGKILL');
    await this.serves.get(lb)!.exited;
    await this.lab.exec(lb, ['ip', 'addr', 'del', `${this.vip}/24`, 'dev', 'eth0']).catch(() => undefined);
  }

  async stopClients(): Promise<void> {
    for (const stream of this.streams) this.lab.killGroup(stream.proc, 'SIGKILL');
    if (this.prober) this.lab.killGroup(this.prober, 'SIGKILL');
  }

  async cleanup(): Promise<void> {
    if (process.env.FAILOVER_LOGS) for (const [name, proc] of this.serves) await writeFile(join(process.env.FAILOVER_LOGS, `${name}.log`), proc.lines.map((l) => l.text).join('\n'));
    if (process.env.FAILOVER_LOGS && this.prober) await writeFile(join(process.env.FAILOVER_LOGS, 'prober.log'), this.prober.lines.map((l) => l.text).join('\n'));
    await this.lab.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}
