// Linux: the VIP is a secondary address added with iproute2 and announced with gratuitous ARP (arping) or an
// unsolicited neighbour advertisement (ndisc6's ndsend). Node cannot send raw ARP frames without a native addon,
// so the announcement is a short-lived child process.
import { execFile } from 'node:child_process';
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Announcer } from './announcer.js';

export interface CommandResult { code: number; stdout: string; stderr: string; missing?: boolean }
export type CommandRunner = (file: string, args: string[]) => Promise<CommandResult>;

export interface IpAddrAnnouncerOptions {
  address: string;
  prefixLength: number;
  interface: string;
  family: 4 | 6;
  logger: Logger;
  /** When to send the announcement after acquiring, in ms (default 0, 100 and 1000: one may be lost). */
  announceDelaysMs?: number[];
  run?: CommandRunner;
}

export const DEFAULT_ANNOUNCE_DELAYS_MS = [0, 100, 1000] as const;

export const runCommand: CommandRunner = (file, args) => new Promise((resolve) => {
  execFile(file, args, { timeout: 5000 }, (error, stdout, stderr) => {
    const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
    resolve({ code, stdout: String(stdout), stderr: String(stderr), missing: error?.code === 'ENOENT' });
  });
});

export type ArpingFlavour = 'habets' | 'iputils';

/** The two arpings take different flags: Thomas Habets' (Debian `arping`) and iputils' (`iputils-arping`). */
export function arpingArgs(flavour: ArpingFlavour, iface: string, address: string): string[] {
  return flavour === 'habets'
    ? ['-q', '-U', '-c', '1', '-w', '0', '-i', iface, address]
    : ['-q', '-U', '-c', '1', '-w', '1', '-I', iface, address];
}

export class IpAddrAnnouncer implements Announcer {
  readonly #o: IpAddrAnnouncerOptions;
  readonly #run: CommandRunner;
  readonly #timers = new Set<NodeJS.Timeout>();
  #flavour?: Promise<ArpingFlavour | undefined>;
  #warned = false;

  constructor(options: IpAddrAnnouncerOptions) {
    this.#o = options;
    this.#run = options.run ?? runCommand;
  }

  get #cidr(): string { return `${this.#o.address}/${this.#o.prefixLength}`; }

  async present(): Promise<boolean> {
    const result = await this.#ip(['-j', 'addr', 'show', 'dev', this.#o.interface]);
    const links = JSON.parse(result.stdout || '[]') as { addr_info?: { local?: string }[] }[];
    return links.some((link) => (link.addr_info ?? []).some((info) => info.local === this.#o.address));
  }

  async acquire(): Promise<boolean> {
    this.#cancelAnnouncements();
    let changed = false;
    if (!(await this.present())) {
      // nodad: an IPv6 VIP must answer at once, not after a second of duplicate address detection.
      const args = ['addr', 'add', this.#cidr, 'dev', this.#o.interface, ...(this.#o.family === 6 ? ['nodad'] : [])];
      const result = await this.#run('ip', args);
      if (result.code !== 0 && !/exists/i.test(result.stderr)) throw this.#failure('add', result);
      changed = result.code === 0;
    }
    for (const delay of this.#o.announceDelaysMs ?? DEFAULT_ANNOUNCE_DELAYS_MS) {
      if (delay <= 0) { void this.#announce(); continue; }
      const timer = setTimeout(() => { this.#timers.delete(timer); void this.#announce(); }, delay);
      this.#timers.add(timer);
    }
    return changed;
  }

  async release(): Promise<boolean> {
    this.#cancelAnnouncements();
    if (!(await this.present())) return false;
    const result = await this.#run('ip', ['addr', 'del', this.#cidr, 'dev', this.#o.interface]);
    if (result.code !== 0 && !/cannot assign/i.test(result.stderr)) throw this.#failure('del', result);
    return result.code === 0;
  }

  #cancelAnnouncements(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async #ip(args: string[]): Promise<CommandResult> {
    const result = await this.#run('ip', args);
    if (result.missing) throw new UserError('VIP', 'the `ip` command (iproute2) is not installed', { hint: 'install iproute2; serve manages the VIP with it' });
    if (result.code !== 0) throw this.#failure(args.join(' '), result);
    return result;
  }

  #failure(what: string, result: CommandResult): UserError {
    const detail = result.stderr.trim().split('\n')[0] || `exit ${result.code}`;
    return new UserError('VIP', `ip addr ${what} ${this.#cidr} dev ${this.#o.interface} failed: ${detail}`, {
      hint: `check that interface ${this.#o.interface} exists (vip.interface) and that serve has CAP_NET_ADMIN`,
    });
  }

  async #announce(): Promise<void> {
    if (this.#o.family === 6) {
      const result = await this.#run('ndsend', [this.#o.address, this.#o.interface]);
      if (result.missing) this.#warnOnce('ndsend (Debian package ndisc6) is not installed: neighbours learn the IPv6 VIP\'s new holder only when their cache entry expires');
      return;
    }
    this.#flavour ??= this.#detectArping();
    const flavour = await this.#flavour;
    if (!flavour) return;
    // Exit status 1 only means nobody answered, which is normal for a gratuitous ARP.
    const result = await this.#run('arping', arpingArgs(flavour, this.#o.interface, this.#o.address));
    if (result.code > 1) this.#o.logger.warn({ vip: this.#o.address, stderr: result.stderr.trim() }, 'gratuitous ARP failed');
  }

  async #detectArping(): Promise<ArpingFlavour | undefined> {
    const result = await this.#run('arping', ['--help']);
    if (result.missing) {
      this.#warnOnce('arping is not installed: neighbours learn the VIP\'s new holder only when their ARP entry expires (install Debian package arping)');
      return undefined;
    }
    return /habets/i.test(result.stdout + result.stderr) ? 'habets' : 'iputils';
  }

  #warnOnce(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#o.logger.warn({ vip: this.#o.address }, message);
  }
}
