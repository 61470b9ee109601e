// Server addresses as HAProxy reads them, for rules that compare or classify them.
import { isIP } from 'node:net';

/**
 * A server's address as HAProxy reads it: "[2001:db8::1]:6443", a bare "2001:db8::1:6443" (the last colon
 * starts the port), with or without an "ipv4@"/"ipv6@" prefix.
 */
export function hostAndPort(text: string): [string, number | undefined] {
  const address = text.replace(/^ipv[46]@/, '');
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return [bracketed[1], bracketed[2] === undefined ? undefined : Number(bracketed[2])];
  const match = /^(.*):(\d+)$/.exec(address);
  return match && match[1] !== '' && !match[1].endsWith(':') ? [match[1], Number(match[2])] : [address, undefined];
}

/** One spelling per server, so the spec's 2001:db8:0::1 and the file's [2001:db8::1] are the same server. */
export function serverKey(host: string, port: number | undefined): string {
  let canonical = host.toLowerCase();
  // WHATWG URL writes an IPv6 address in its RFC 5952 form; an address with a zone (fe80::1%eth0) it refuses.
  if (isIP(host) === 6) try { canonical = new URL(`http://[${host}]/`).hostname.slice(1, -1); } catch { /* keep it as written */ }
  return `${canonical}${port === undefined ? '' : `:${port}`}`;
}
