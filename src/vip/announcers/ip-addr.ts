// Linux: the VIP is a secondary address added with iproute2 and announced with gratuitous ARP (arping) or an
// unsolicited neighbour advertisement (ndisc6's ndsend). Node cannot send raw ARP frames without a native addon,
// so the announcement is a short-lived child process.
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Announcer } from './announcer.js';
import type { CommandResult, CommandRunner } from './command.js';
import { ShellRunner } from './shell-runner.js';

export interface IpAddrAnnouncerOptions {
  address: string;
  prefixLength: number;
  interface: string;
  family: 4 | 6;
  logger: Logger;
  /** When to send the announcement after acquiring, in ms (default 0, 100 and 1000: one may be lost). */
  announceDelaysMs?: number[];
  /** Default: one long-lived helper shell (see shell-runner.ts). */
  run?: CommandRunner;
  /** Runs the announcement without waiting for it. Default: `run`'s shell, in the background. */
  runInBackground?: CommandRunner;
}

export const DEFAULT_ANNOUNCE_DELAYS_MS = [0, 100, 1000] as const;

export type ArpingFlavour = 'habets' | 'iputils';

/**
 * The two arpings take different flags: Thomas Habets' (Debian `arping`) and iputils' (`iputils-arping`).
 * Habets' 2.23 keeps the interface's primary address as sender despite -U, which neighbours ignore: -S sets the
 * VIP as sender (a real gratuitous ARP, "who-has VIP tell VIP"); -w 0 returns without waiting for a reply.
 */
export function arpingArgs(flavour: ArpingFlavour, iface: string, address: string): string[] {
  return flavour === 'habets'
    ? ['-q', '-U', '-S', address, '-c', '1', '-w', '0', '-i', iface, address]
    : ['-q', '-U', '-c', '1', '-w', '1', '-I', iface, address];
}

export class IpAddrAnnouncer implements Announcer {
  readonly #o: IpAddrAnnouncerOptions;
  readonly #run: CommandRunner;
  readonly #runInBackground: CommandRunner;
  readonly #shell?: ShellRunner;
  readonly #timers = new Set<NodeJS.Timeout>();
  #flavour?: Promise<ArpingFlavour | undefined>;
  #ndsend?: Promise<boolean>;
  #warned = false;

  constructor(options: IpAddrAnnouncerOptions) {
    this.#o = options;
    if (options.run) {
      this.#run = options.run;
      this.#runInBackground = options.runInBackground ?? options.run;
    } else {
      this.#shell = new ShellRunner();
      this.#run = this.#shell.run;
      this.#runInBackground = options.runInBackground ?? this.#shell.runInBackground;
    }
  }

  /** Starts the helper shell and finds the announcement tool now, so the first takeover does not wait for either. */
  async prepare(): Promise<void> {
    if (this.#o.family === 6) this.#ndsend ??= this.#run('ndsend', ['--help']).then((r) => !r.missing);
    else this.#flavour ??= this.#detectArping();
    await (this.#o.family === 6 ? this.#ndsend : this.#flavour);
  }

  close(): void {
    this.#cancelAnnouncements();
    this.#shell?.close();
  }

  get #cidr(): string { return `${this.#o.address}/${this.#o.prefixLength}`; }

  /** Whether the interface carries the VIP now. */
  async present(): Promise<boolean> {
    const result = await this.#run('ip', ['-j', 'addr', 'show', 'dev', this.#o.interface]);
    this.#checkInstalled(result);
    if (result.code !== 0) throw this.#failure('show', result);
    const links = JSON.parse(result.stdout || '[]') as { addr_info?: { local?: string }[] }[];
    return links.some((link) => (link.addr_info ?? []).some((info) => info.local === this.#o.address));
  }

  /**
   * One `ip` call per operation (each costs a process start, and acquire is on the failover path): "File exists"
   * on add and "Cannot assign requested address" on del mean there was nothing to change.
   */
  async acquire(): Promise<boolean> {
    this.#cancelAnnouncements();
    // nodad: an IPv6 VIP must answer at once, not after a second of duplicate address detection.
    const adding = this.#run('ip', ['addr', 'add', this.#cidr, 'dev', this.#o.interface, ...(this.#o.family === 6 ? ['nodad'] : [])]);
    // Queued right behind the add in the helper shell, the first announcement leaves as soon as the address is up,
    // without a round trip through this process.
    for (const delay of this.#o.announceDelaysMs ?? DEFAULT_ANNOUNCE_DELAYS_MS) {
      if (delay <= 0) { void this.#announce(); continue; }
      const timer = setTimeout(() => { this.#timers.delete(timer); void this.#announce(); }, delay);
      this.#timers.add(timer);
    }
    const result = await adding;
    if (result.missing || (result.code !== 0 && !/file exists/i.test(result.stderr))) {
      this.#cancelAnnouncements();
      this.#checkInstalled(result);
      throw this.#failure('add', result);
    }
    return result.code === 0;
  }

  async release(): Promise<boolean> {
    this.#cancelAnnouncements();
    const result = await this.#run('ip', ['addr', 'del', this.#cidr, 'dev', this.#o.interface]);
    this.#checkInstalled(result);
    if (result.code !== 0 && !/cannot assign requested address|address not found/i.test(result.stderr)) throw this.#failure('del', result);
    return result.code === 0;
  }

  #cancelAnnouncements(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #checkInstalled(result: CommandResult): void {
    if (result.missing) throw new UserError('VIP', 'the `ip` command (iproute2) is not installed', { hint: 'install iproute2; serve manages the VIP with it' });
  }

  #failure(what: string, result: CommandResult): UserError {
    const detail = result.stderr.trim().split('\n')[0] || `exit ${result.code}`;
    return new UserError('VIP', `ip addr ${what} ${what === 'show' ? '' : `${this.#cidr} `}dev ${this.#o.interface} failed: ${detail}`, {
      hint: `check that interface ${this.#o.interface} exists (vip.interface) and that serve has CAP_NET_ADMIN`,
    });
  }

  async #announce(): Promise<void> {
    if (this.#o.family === 6) {
      this.#ndsend ??= this.#run('ndsend', ['--help']).then((r) => !r.missing);
      if (await this.#ndsend) void this.#runInBackground('ndsend', [this.#o.address, this.#o.interface]);
      else this.#warnOnce('ndsend (Debian package ndisc6) is not installed: neighbours learn the IPv6 VIP\'s new holder only when their cache entry expires');
      return;
    }
    this.#flavour ??= this.#detectArping();
    const flavour = await this.#flavour;
    if (!flavour) return;
    // In the background: arping waits for the packet to leave, and the queue must stay free for a release.
    void this.#runInBackground('arping', arpingArgs(flavour, this.#o.interface, this.#o.address));
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
