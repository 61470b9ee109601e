// The kernel data plane's test network: a client on the front segment, the balancer on both, three
// control-plane stand-ins on the back segment whose default route is the balancer (so that, with
// preserveClientIp, their replies to the client's own address go back through it).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, ROOT } from '../../helpers/cli.js';
import { Lab, type Proc } from '../../helpers/lab.js';
import { adminGet, startEcho } from '../../helpers/lab-peers.js';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';

export const PORT = 6443;
export const ADMIN = 'http://127.0.0.1:8404';
export const NODES = ['cp-01', 'cp-02', 'cp-03'] as const;
/** The table of the lab's spec (cluster: kernel). */
export const TABLE = 'cluster_endpoint_kernel';

export class KernelLab {
  readonly lab: Lab;
  readonly dir: string;
  readonly specPath: string;
  readonly echoes = new Map<string, Proc>();
  serve: Proc | undefined;

  private constructor(lab: Lab, dir: string) {
    this.lab = lab;
    this.dir = dir;
    this.specPath = join(dir, 'endpoint.yaml');
  }

  static async create(): Promise<KernelLab> {
    const lab = await Lab.create({
      segments: { front: 1, back: 2 },
      hosts: { client: { front: 2 }, lb: { front: 1, back: 1 }, 'cp-01': { back: 11 }, 'cp-02': { back: 12 }, 'cp-03': { back: 13 } },
      ipv6: true,
    }, 'cekrn');
    const dir = await mkdtemp(join(tmpdir(), 'ce-kernel-'));
    const k = new KernelLab(lab, dir);
    try {
      await lab.sysctl('lb', 'net.ipv4.ip_forward=1');
      await lab.sysctl('lb', 'net.ipv6.conf.all.forwarding=1');
      for (const node of NODES) await lab.defaultRoute(node, 'lb');
      await lab.defaultRoute('client', 'lb');
      for (const node of NODES) await k.startEcho(node);
    } catch (error) {
      await k.cleanup();
      throw error;
    }
    return k;
  }

  /** The balancer's address clients use (its front address). */
  get endpoint(): string {
    return this.lab.addressOf('lb', 'front');
  }

  get endpoint6(): string {
    return this.lab.address6Of('lb', 'front');
  }

  async startEcho(node: string): Promise<void> {
    const proc = startEcho(this.lab, node, node, PORT);
    this.echoes.set(node, proc);
    await proc.waitForLine((l) => l.text === 'listening');
  }

  spec(overrides: { balancer?: Record<string, unknown>; nodes?: readonly string[]; family?: 4 | 6; deregistrationDelay?: string } = {}): Record<string, unknown> {
    const family = overrides.family ?? 4;
    const address = (node: string) => (family === 6 ? this.lab.address6Of(node, 'back') : this.lab.addressOf(node, 'back'));
    return {
      cluster: { name: 'kernel' },
      endpoint: family === 6 ? this.endpoint6 : this.endpoint,
      controlPlane: (overrides.nodes ?? NODES).map((name) => ({ name, address: address(name) })),
      listeners: [{ name: 'kubernetes', port: PORT, targetPort: PORT, targets: 'controlPlane' }],
      healthCheck: { interval: '300ms', fastInterval: '150ms', timeout: '200ms', healthyThreshold: 1, unhealthyThreshold: 2 },
      deregistrationDelay: overrides.deregistrationDelay ?? '2s',
      balancer: { mode: 'kernel', preserveClientIp: true, bind: family === 6 ? this.endpoint6 : this.endpoint, admin: '127.0.0.1:8404', watch: false, ...overrides.balancer },
    };
  }

  async writeSpec(value: Record<string, unknown>): Promise<void> {
    await writeFile(this.specPath, stringify(value));
  }

  /** Starts serve in the balancer's namespace and waits for its "started" line. */
  async startServe(extra: string[] = []): Promise<Proc> {
    const proc = this.lab.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', this.specPath, ...extra], { cwd: ROOT, group: true, env: { CLUSTER_ENDPOINT_LOG_LEVEL: 'debug' } });
    this.serve = proc;
    await proc.waitForLine((l) => l.json?.event === 'started', 30_000);
    return proc;
  }

  /** Runs the CLI once in the balancer's namespace (e.g. serve --cleanup, or a serve expected to fail). */
  async cli(args: string[], options: { env?: Record<string, string>; prefix?: string[] } = {}): Promise<{ code: number | null; output: string }> {
    const proc = this.lab.spawn('lb', [...(options.prefix ?? []), process.execPath, '--import', 'tsx', CLI, ...args], { cwd: ROOT, env: options.env });
    const code = await proc.exited;
    return { code, output: proc.lines.map((l) => l.text).join('\n') };
  }

  status(): Promise<StatusSnapshot> {
    return adminGet<StatusSnapshot>(this.lab, 'lb', `${ADMIN}/api/status`);
  }

  /** Waits until every named server has `state` (checks over the admin API). */
  async waitForStates(states: Record<string, string>, timeoutMs = 10_000): Promise<StatusSnapshot> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status().catch(() => undefined);
      const servers = status?.listeners[0]?.servers ?? [];
      if (status && Object.entries(states).every(([name, state]) => servers.some((s) => s.name === name && s.state === state && !s.removed))) return status;
      if (Date.now() > deadline) throw new Error(`servers did not reach ${JSON.stringify(states)}: ${JSON.stringify(servers.map((s) => [s.name, s.state, s.adminState]))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A cluster's nftables table as text (this lab's spec: cluster kernel), or undefined when there is none. */
  async table(name = TABLE): Promise<string | undefined> {
    try {
      return await this.lab.exec('lb', ['nft', 'list', 'table', 'inet', name]);
    } catch {
      return undefined;
    }
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}
