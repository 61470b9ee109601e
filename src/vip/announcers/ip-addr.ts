// Linux: the VIP is a secondary address added with iproute2 and announced with gratuitous ARP (arping) or an
// unsolicited neighbour advertisement (ndptool, Debian package libndp-tools). Node cannot send raw ARP frames without a native addon,
// so the announcement is a short-lived child process.
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createSocket } from 'node:dgram';
import type { Announcer } from './announcer.js';
import type { CommandResult, CommandRunner } from './command.js';
import { IpBatch } from './ip-batch.js';
import { ShellRunner } from './shell-runner.js';

const BATCH_TIMEOUT_MS = 3000;

export interface IpAddrAnnouncerOptions {
  address: string;
  prefixLength: number;
  interface: string;
  family: 4 | 6;
  logger: Logger;
  /** When to send the announcement after acquiring, in ms (default 0, 100 and 1000: one may be lost). */
  announceDelaysMs?: number[];
  /**
   * IPv4: addresses on the segment (the other peers) used for a kernel ARP announcement right after the takeover:
   * their neighbour entry is dropped and one datagram from the VIP makes the kernel broadcast "who-has PEER tell
   * VIP" from this host's MAC — neighbours update an existing entry for the VIP from it within a millisecond, while
   * arping (the real gratuitous ARP, which always overrides) takes tens of milliseconds to start.
   */
  nudgeTargets?: string[];
  /**
   * Announce with the gratuitous ARP alone, and the kernel announcement only when arping is not installed: for a
   * data plane that breaks while neighbours are split between two forwarding hosts (src/runtime/vip.ts).
   */
  gratuitousOnly?: boolean;
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
 * VIP as sender (a real gratuitous ARP, "who-has VIP tell VIP"). -w 1 bounds the wait for a reply that never
 * comes; arping runs in the background, so the wait costs nothing.
 */
export function arpingArgs(flavour: ArpingFlavour, iface: string, address: string): string[] {
  return flavour === 'habets'
    ? ['-q', '-U', '-S', address, '-c', '1', '-w', '1', '-i', iface, address]
    : ['-q', '-U', '-c', '1', '-w', '1', '-I', iface, address];
}

/**
 * An unsolicited neighbour advertisement for the VIP from this host (override flag and target link-layer address
 * set): neighbours replace their entry's MAC with this host's. Linux sends none by itself when an address is
 * added with nodad (measured: `ndisc_notify` does not change that), and Node cannot send ICMPv6.
 */
export function ndptoolArgs(iface: string, address: string): string[] {
  return ['-t', 'na', '-U', '-i', iface, '-T', address, 'send'];
}

export class IpAddrAnnouncer implements Announcer {
  readonly #o: IpAddrAnnouncerOptions;
  readonly #run: CommandRunner;
  readonly #runInBackground: CommandRunner;
  readonly #shell?: ShellRunner;
  #batch?: IpBatch;
  readonly #timers = new Set<NodeJS.Timeout>();
  #flavour?: Promise<ArpingFlavour | undefined>;
  #ndptool?: Promise<boolean>;
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

  /**
   * Checks the interface, starts the helpers (a shell for arping, a long-lived `ip -batch` for the address) and finds
   * the announcement tool now, so the first takeover waits for none of it.
   */
  async prepare(): Promise<void> {
    const link = await this.#run('ip', ['link', 'show', 'dev', this.#o.interface]);
    this.#checkInstalled(link);
    if (link.code !== 0) {
      throw new UserError('VIP', `interface ${this.#o.interface} (vip.interface) does not exist on this host`, { hint: 'set vip.interface to the LB host\'s interface on the VIP\'s segment (see `ip link`)' });
    }
    if (this.#shell) {
      const batch = new IpBatch();
      if (batch.start()) this.#batch = batch;
    }
    if (this.#o.family === 6) this.#ndptool ??= this.#detectNdptool();
    else this.#flavour ??= this.#detectArping();
    await (this.#o.family === 6 ? this.#ndptool : this.#flavour);
  }

  close(): void {
    this.#cancelAnnouncements();
    this.#batch?.close();
    this.#batch = undefined;
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
    const args = ['addr', 'add', this.#cidr, 'dev', this.#o.interface, ...(this.#o.family === 6 ? ['nodad'] : [])];
    const batched = this.#batched(args);
    // With `ip -batch` the address is up in well under a millisecond, while arping needs ten or more to start: the
    // first announcement starts alongside. Without it, the announcement is queued behind the add in the helper shell.
    const adding = batched ?? this.#run('ip', args);
    for (const delay of this.#o.announceDelaysMs ?? DEFAULT_ANNOUNCE_DELAYS_MS) {
      if (delay <= 0) { void this.#announce(); continue; }
      const timer = setTimeout(() => { this.#timers.delete(timer); void this.#announce(); }, delay);
      this.#timers.add(timer);
    }
    const result = await adding;
    if (result.missing || (result.code !== 0 && !/file exists|already assigned/i.test(result.stderr))) {
      this.#cancelAnnouncements();
      this.#checkInstalled(result);
      throw this.#failure('add', result);
    }
    if (batched && !(this.#o.gratuitousOnly && (await this.#gratuitous()))) void this.#nudge();
    return result.code === 0;
  }

  /** Whether a gratuitous ARP announces a takeover (IPv4, arping installed). */
  async #gratuitous(): Promise<boolean> {
    return this.#o.family === 4 && (await this.#flavour) !== undefined;
  }

  /** The kernel ARP announcement described at `nudgeTargets`; best effort, errors only logged at debug. */
  async #nudge(): Promise<void> {
    const batch = this.#batch;
    const targets = this.#o.family === 4 ? this.#o.nudgeTargets ?? [] : [];
    if (!batch?.running || targets.length === 0) return;
    try {
      // flush, not del: del of an entry that is not there makes ip exit, and with it the batch.
      for (const target of targets) await batch.apply(`neigh flush to ${target} dev ${this.#o.interface}`, this.#o.interface, this.#o.address);
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind({ address: this.#o.address, port: 0 }, () => resolve()); });
      // Port 9 (discard): nobody needs to receive it; it only makes the kernel resolve the target from the VIP.
      await Promise.all(targets.map((target) => new Promise<void>((resolve) => socket.send(Buffer.alloc(1), 9, target, () => resolve()))));
      socket.close();
    } catch (error) {
      this.#o.logger.debug({ err: (error as Error).message }, 'kernel ARP announcement failed');
    }
  }

  async release(): Promise<boolean> {
    this.#cancelAnnouncements();
    const args = ['addr', 'del', this.#cidr, 'dev', this.#o.interface];
    const result = await (this.#batched(args) ?? this.#run('ip', args));
    this.#checkInstalled(result);
    if (result.code !== 0 && !/cannot assign requested address|address not found/i.test(result.stderr)) throw this.#failure('del', result);
    return result.code === 0;
  }

  /**
   * The operation through `ip -batch`, as a CommandResult: code 0 when it changed the address, 2 with iproute2's
   * message when there was nothing to change. Undefined without the batch; a batch that fails is dropped and the
   * operation runs as its own `ip` process.
   */
  #batched(args: string[]): Promise<CommandResult> | undefined {
    const batch = this.#batch;
    if (!batch?.running) return undefined;
    const adding = args[1] === 'add';
    const applied = batch.apply(args.join(' '), this.#o.interface, this.#o.address);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('ip -batch did not answer')), BATCH_TIMEOUT_MS).unref());
    return Promise.race([applied, timeout]).then(
      ({ before, after, error }): CommandResult => {
        if (adding ? after : !after) {
          const changed = adding ? !before : before;
          return changed ? { code: 0, stdout: '', stderr: '' } : { code: 2, stdout: '', stderr: adding ? 'File exists' : 'Cannot assign requested address' };
        }
        return { code: 2, stdout: '', stderr: error ?? `address ${adding ? 'not added' : 'still present'}` };
      },
      (error: Error) => {
        this.#o.logger.warn({ err: error.message }, 'ip -batch failed; running ip per command');
        batch.close();
        this.#batch = undefined;
        return this.#run('ip', args);
      },
    );
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
      this.#ndptool ??= this.#detectNdptool();
      if (await this.#ndptool) void this.#runInBackground('ndptool', ndptoolArgs(this.#o.interface, this.#o.address));
      return;
    }
    this.#flavour ??= this.#detectArping();
    const flavour = await this.#flavour;
    if (!flavour) return;
    // In the background: arping waits for the packet to leave, and the queue must stay free for a release.
    void this.#runInBackground('arping', arpingArgs(flavour, this.#o.interface, this.#o.address));
  }

  async #detectNdptool(): Promise<boolean> {
    const result = await this.#run('ndptool', ['--help']);
    if (result.missing) this.#warnOnce('ndptool is not installed: neighbours learn the IPv6 VIP\'s new holder only when their cache entry goes stale (install Debian package libndp-tools)');
    return !result.missing;
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
