// The endpoint as a local address on lo, so the balancer accepts what the routers send it (this kernel has no
// dummy links; lo is always there). A marker file in the run directory says serve added it: only then does
// serve remove it at stop. An endpoint that is already on another interface is an address in use.
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { normalizeAddress, parseIpAddr } from '../local-addresses.js';
import type { CommandRunner } from '../vip/announcers/command.js';
import { ensureRunDirectory } from './supervisor.js';

export const LOOPBACK = 'lo';

export class EndpointAddress {
  readonly #address: string;
  readonly #prefixLength: number;
  readonly #marker: string;
  readonly #run: CommandRunner;
  #added = false;

  /** `marker`: the file in the run directory that records that serve added this address. */
  constructor(address: string, runDirectory: string, run: CommandRunner, marker = 'address') {
    this.#address = address;
    this.#prefixLength = isIP(address) === 6 ? 128 : 32;
    this.#marker = join(runDirectory, marker);
    this.#run = run;
  }

  /** Where the endpoint is on this host now (interface names). */
  async holders(): Promise<string[]> {
    const result = await this.#run('ip', ['-j', 'addr', 'show']);
    if (result.missing) throw new UserError('BGP', 'bgp: ip (iproute2) is not installed', { hint: 'install iproute2', exitCode: 2 });
    if (result.code !== 0) throw new UserError('BGP', `bgp: ip addr show failed: ${result.stderr.trim()}`, { exitCode: 2 });
    const wanted = normalizeAddress(this.#address);
    return [...new Set(parseIpAddr(result.stdout).filter((a) => normalizeAddress(a.address) === wanted).map((a) => a.interface))];
  }

  /** Puts the endpoint on lo (idempotent); adopts it when an earlier serve left it there. */
  async ensure(): Promise<void> {
    const holders = await this.holders();
    const elsewhere = holders.filter((name) => name !== LOOPBACK);
    if (elsewhere.length > 0) {
      throw new UserError('BGP', `bgp: the endpoint ${this.#address} is already in use on this host (on ${elsewhere.join(', ')})`, {
        hint: 'the anycast endpoint must be an address no interface carries (a VIP, a node address?): pick an unused one, or remove it from that interface', exitCode: 2,
      });
    }
    const ours = await readFile(this.#marker, 'utf8').then(() => true, () => false);
    if (holders.includes(LOOPBACK)) {
      this.#added = ours;
      return;
    }
    await ensureRunDirectory(dirname(this.#marker));
    const result = await this.#run('ip', ['addr', 'add', `${this.#address}/${this.#prefixLength}`, 'dev', LOOPBACK]);
    if (result.code !== 0 && !/File exists/.test(result.stderr)) {
      throw new UserError('BGP', `bgp: cannot put the endpoint ${this.#address} on ${LOOPBACK}: ${result.stderr.trim() || `exit ${result.code}`}`, { hint: 'serve needs root or CAP_NET_ADMIN for bgp', exitCode: 2 });
    }
    await writeFile(this.#marker, `${this.#address}\n`);
    this.#added = true;
  }

  /** Removes the endpoint from lo if serve put it there. */
  async release(): Promise<void> {
    if (!this.#added) return;
    await this.#run('ip', ['addr', 'del', `${this.#address}/${this.#prefixLength}`, 'dev', LOOPBACK]);
    await rm(this.#marker, { force: true });
    this.#added = false;
  }
}
