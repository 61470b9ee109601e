// One long-lived `ip -j -force -batch -`: adding or removing the VIP is a line written to it, not a process start,
// so the takeover's address change costs well under a millisecond. Each operation is bracketed by two
// `addr show`, whose JSON lines tell whether the address was there before and after (idempotent, reports change).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

interface Waiter { resolve: (line: string) => void; reject: (error: Error) => void }

export class IpBatch {
  #child?: ChildProcessWithoutNullStreams;
  #waiters: Waiter[] = [];
  #stderr = '';

  /** Starts `ip`; false when it cannot run (then callers fall back to one `ip` per command). */
  start(): boolean {
    if (this.#child) return true;
    try {
      const child = spawn('ip', ['-j', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const gone = () => {
        if (this.#child === child) this.#child = undefined;
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`ip -batch exited${this.#stderr ? `: ${this.#stderr.trim()}` : ''}`));
      };
      child.on('error', gone);
      child.on('exit', gone);
      child.stdin.on('error', () => undefined);
      child.stderr.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d).slice(-2000); });
      createInterface({ input: child.stdout }).on('line', (line) => this.#waiters.shift()?.resolve(line));
      this.#child = child;
      return true;
    } catch {
      return false;
    }
  }

  get running(): boolean { return this.#child !== undefined; }

  /**
   * Runs `change` (e.g. "addr add 10.0.0.5/24 dev eth0") between two `addr show dev IFACE` and returns whether
   * `address` was on the interface before and after. Errors of `change` itself ("File exists") do not matter.
   */
  async apply(change: string, iface: string, address: string): Promise<{ before: boolean; after: boolean; error?: string }> {
    const child = this.#child;
    if (!child) throw new Error('ip -batch is not running');
    const show = `addr show dev ${iface}`;
    const outputs = [this.#next(), this.#next()];
    this.#stderr = '';
    child.stdin.write(`${show}\n${change}\n${show}\n`);
    const [before, after] = await Promise.all(outputs);
    const has = (line: string) => {
      const links = JSON.parse(line) as { addr_info?: { local?: string }[] }[];
      return links.some((link) => (link.addr_info ?? []).some((info) => info.local === address));
    };
    return { before: has(before), after: has(after), error: this.#stderr.trim() || undefined };
  }

  #next(): Promise<string> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    const child = this.#child;
    this.#child = undefined;
    child?.stdin.end();
  }
}
