// A private L2 segment made of network namespaces: one namespace holds a bridge, every host namespace has
// a veth ("eth0") plugged into it and one address in a private /24. No default route, nothing leaves.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function sh(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await exec(cmd, args, { timeout: 10_000 });
  return stdout;
}

export async function hasCommand(name: string): Promise<boolean> {
  try {
    await exec('/bin/sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

export interface Host { name: string; ns: string; address: string }

export class Segment {
  /** Unique per run, so parallel or leftover runs never collide. */
  readonly prefix = `cebm${randomBytes(3).toString('hex')}`;
  /** 10.251.<random>.0/24: private, and only inside these namespaces. */
  readonly subnet = `10.251.${randomInt(1, 254)}`;
  readonly bridgeNs = `${this.prefix}-br`;
  readonly hosts = new Map<string, Host>();
  readonly #namespaces: string[] = [];
  readonly #children: ChildProcess[] = [];

  address(lastOctet: number): string {
    return `${this.subnet}.${lastOctet}`;
  }

  async createBridge(): Promise<void> {
    await this.#addNs(this.bridgeNs);
    await sh('ip', ['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
  }

  async addHost(name: string, lastOctet: number): Promise<Host> {
    const ns = `${this.prefix}-${name}`;
    await this.#addNs(ns);
    const port = `v${this.hosts.size}`;
    await sh('ip', ['-n', this.bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await sh('ip', ['-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0', 'up']);
    const address = this.address(lastOctet);
    await sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const host = { name, ns, address };
    this.hosts.set(name, host);
    return host;
  }

  /** Starts a process inside a host namespace; it is stopped by PID in destroy(). */
  spawnIn(host: Host, command: string, args: string[], onLine?: (line: string) => void): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', host.ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.push(child);
    let buffered = '';
    const feed = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) onLine?.(line);
    };
    child.stdout?.on('data', feed);
    child.stderr?.on('data', feed);
    return child;
  }

  async addresses(host: Host): Promise<string> {
    return sh('ip', ['-n', host.ns, '-4', 'addr', 'show', 'dev', 'eth0']);
  }

  async destroy(): Promise<void> {
    // SIGTERM first (keepalived then stops its VRRP child and drops the VIP), SIGKILL what is left after 2s.
    const running = () => this.#children.filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const left = running();
      for (const child of left) {
        try { process.kill(child.pid!, signal); } catch { /* already gone */ }
      }
      await Promise.all(left.map((c) => new Promise((r) => { c.once('close', r); setTimeout(r, 2000).unref(); })));
    }
    for (const ns of this.#namespaces.reverse()) {
      try { await sh('ip', ['netns', 'del', ns]); } catch { /* best effort: report nothing, the next step still runs */ }
    }
  }

  async #addNs(ns: string): Promise<void> {
    await sh('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
  }
}

/** A control-plane stand-in: answers every connection on :port with its name. */
export const STAND_IN = `
const name = process.argv[1], port = Number(process.argv[2]);
require('node:net').createServer((s) => { s.on('error', () => {}); s.end(name + '\\n'); })
  .listen(port, '0.0.0.0', () => console.log('listening ' + name));
setTimeout(() => process.exit(0), 120000).unref?.();
`;

/**
 * A prober: connects to host:port every stepMs and prints one JSON line per attempt
 * ({ t, ok, answer }). Bounded: stops after maxAttempts or maxMs, whichever comes first.
 */
export const PROBER = `
const [host, port, stepMs, maxAttempts, maxMs] = process.argv.slice(1);
const net = require('node:net');
const start = Date.now();
let attempts = 0;
function once() {
  if (attempts++ >= Number(maxAttempts) || Date.now() - start > Number(maxMs)) process.exit(0);
  const t = Date.now();
  const s = net.connect({ host, port: Number(port) });
  let answer = '', done = false;
  const finish = (ok) => {
    if (done) return; done = true; s.destroy();
    console.log(JSON.stringify({ t, ok: ok && answer.length > 0, answer: answer.trim() }));
    setTimeout(once, Math.max(0, Number(stepMs) - (Date.now() - t)));
  };
  const timer = setTimeout(() => finish(false), 500);
  s.on('data', (d) => { answer += d; });
  s.on('end', () => { clearTimeout(timer); finish(true); });
  s.on('error', () => { clearTimeout(timer); finish(false); });
}
once();
`;
