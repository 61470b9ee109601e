// The addresses configured on this host, as the kernel has them: every address on every interface, whether its
// link has carrier or not. Node's os.networkInterfaces() (libuv's getifaddrs walk) leaves out every interface
// that is not running, so during boot, a link flap, or a veth whose peer comes up a moment later, an address
// that is plainly this host's looked foreign: kernel mode refused to start ("balancer.bind … is not an address
// of this host") and the VIP could not tell which peer it is. Everything that asks "is this address mine" asks
// here. Read with `ip -j addr show` (iproute2, which serve needs for the VIP and the kernel data plane anyway);
// without it, os.networkInterfaces() is all there is.
import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { addressBytes } from './vip/election/address-order.js';

export interface LocalAddress {
  address: string;
  /** Interface name (eth0, lo, …). */
  interface: string;
}

interface IpAddrLink { ifname: string; addr_info?: Array<{ local?: string }> }

/** Every address configured on an interface of this host (in the network namespace this process runs in). */
export function localAddresses(): LocalAddress[] {
  let stdout: string;
  try {
    stdout = execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch {
    return fromNode(); // no iproute2 (a container without it, another OS)
  }
  return parseIpAddr(stdout);
}

/** The addresses in what `ip -j addr show` prints. */
export function parseIpAddr(stdout: string): LocalAddress[] {
  const links = JSON.parse(stdout || '[]') as IpAddrLink[];
  const found: LocalAddress[] = [];
  for (const link of links) for (const info of link.addr_info ?? []) if (info.local) found.push({ address: info.local, interface: link.ifname });
  return found;
}

/** Whether `address` is configured on this host (any spelling: "::ffff:10.0.0.1" is 10.0.0.1, "fe80::1%eth0" is fe80::1). */
export function isLocalAddress(address: string, addresses: readonly LocalAddress[] = localAddresses()): boolean {
  const wanted = normalizeAddress(address);
  return addresses.some((a) => normalizeAddress(a.address) === wanted);
}

/** Text form of an address that compares equal for every spelling of it. */
export function normalizeAddress(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '');
  return isIP(plain) ? addressBytes(plain).join('.') : plain.toLowerCase();
}

function fromNode(): LocalAddress[] {
  return Object.entries(networkInterfaces()).flatMap(([name, list]) => (list ?? []).map((i) => ({ address: i.address, interface: name })));
}
