import { BlockList, isIP } from 'node:net';

export type AddressKind = 'ipv4' | 'ipv6' | 'dns';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** Classifies an address as IPv4, IPv6 or a DNS name; undefined when it is none of them. */
export function addressKind(text: string): AddressKind | undefined {
  const ip = isIP(text);
  if (ip === 4) return 'ipv4';
  if (ip === 6) return 'ipv6';
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  // A name whose last label is all digits ("10.0.0.256") is a mistyped address, not a host name.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return undefined;
  return 'dns';
}

/** Splits "host:port" or "[v6]:port". */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(text) ?? /^([^:\[\]]+):([0-9]{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1], port };
}

/**
 * Whether two hosts are the same: IP addresses by value, whatever their spelling (fd42:0::fb is fd42::fb, as a URL
 * or any engine writes it back), names without case or a trailing dot.
 */
export function sameHost(a: string, b: string): boolean {
  const canonical = (host: string) => {
    const family = isIP(host);
    if (family === 0) return host.toLowerCase().replace(/\.$/, '');
    // A zone (fe80::1%eth0) is no part of a URL: compared as written.
    return URL.canParse(`http://[${host}]/`) || family === 4 ? new URL(`http://${family === 6 ? `[${host}]` : host}/`).hostname : host.toLowerCase();
  };
  return canonical(a) === canonical(b);
}

/** Formats host and port, bracketing IPv6. */
export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True for a loopback address (127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x) or the name localhost.
 * Only addresses count: a DNS name that starts with "127." is just a name, and can point anywhere.
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Parses an IPv4 address to a 32-bit number. */
export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** True when both IPv4 addresses fall in the same /prefix network. */
export function sameIpv4Subnet(a: string, b: string, prefixLength: number): boolean {
  if (prefixLength === 0) return true;
  const mask = prefixLength >= 32 ? 0xffffffff : (~((1 << (32 - prefixLength)) - 1)) >>> 0;
  return ((ipv4ToNumber(a) & mask) >>> 0) === ((ipv4ToNumber(b) & mask) >>> 0);
}
