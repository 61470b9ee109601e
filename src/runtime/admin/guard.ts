// Who may use the admin surface, decided from a request's headers before any work is done: the Host header
// must be well formed (and, without a token, an address or localhost: DNS rebinding), and a request that
// changes something must not come from another site's page (Origin). Pure: headers in, an HttpError out.
import { isIP } from 'node:net';
import { isLoopback } from '../../spec/address.js';
import { HttpError } from './requests.js';

/** A Host header split into its name and port (RFC 9110 §7.2: uri-host [ ":" port ]); undefined when malformed. */
export function parseHostHeader(value: string): { hostname: string; port?: number } | undefined {
  const match = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value) ?? /^([A-Za-z0-9._~-]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match) return undefined;
  const [, hostname, port] = match;
  if (value.startsWith('[') && isIP(hostname) !== 6) return undefined;
  if (!value.startsWith('[') && /^[\d.]+$/.test(hostname) && isIP(hostname) !== 4) return undefined;
  if (port === undefined) return { hostname };
  const number = Number(port);
  return number >= 1 && number <= 65535 ? { hostname, port: number } : undefined;
}

/**
 * Every request: a Host header that is not a host[:port] is a 400. Without a token the surface trusts loopback,
 * so a web page whose DNS name was re-pointed at 127.0.0.1 (DNS rebinding) must not be able to use it: only IP
 * literals, localhost and the configured host are accepted.
 */
export function checkHost(hostHeader: string | undefined, bindHost: string, tokenSet: boolean): void {
  if (hostHeader === undefined) return; // HTTP/1.0; node refuses an HTTP/1.1 request without one
  const host = parseHostHeader(hostHeader);
  if (!host) {
    throw new HttpError(400, 'ADMIN_BAD_REQUEST', `the Host header "${printable(hostHeader)}" is not a host name or address with an optional port`, {
      hint: 'send Host: 127.0.0.1:8404, [::1]:8404 or localhost:8404 (clients do this by themselves)',
    });
  }
  if (tokenSet) return;
  const { hostname } = host;
  if (hostname === bindHost || isLoopback(hostname) || isIP(hostname) !== 0) return;
  throw new HttpError(403, 'ADMIN_FORBIDDEN_HOST', `Host "${hostname}" is not accepted without a token`, {
    hint: 'open the admin surface by IP address or localhost, or set balancer.adminToken',
  });
}

/**
 * A request that changes state (PUT) and carries an Origin must come from the admin surface's own page: a browser
 * sends Origin with every cross-site write, so another site's page cannot drain a server through a user's
 * browser, token or not. Clients that are not browsers (curl, cluster-endpoint drain) send no Origin.
 */
export function checkOrigin(method: string, origin: string | undefined, hostHeader: string | undefined): void {
  if (method === 'GET' || method === 'HEAD' || origin === undefined) return;
  let allowed = false;
  try {
    const url = new URL(origin);
    allowed = url.protocol === 'http:' && hostHeader !== undefined && url.host === new URL(`http://${hostHeader}`).host;
  } catch {
    allowed = false;
  }
  if (allowed) return;
  throw new HttpError(403, 'ADMIN_FORBIDDEN_ORIGIN', `a ${method} from the page of ${printable(origin)} is not accepted`, {
    hint: 'change admin states from the status page itself, with cluster-endpoint drain/undrain, or with a client that sends no Origin header',
  });
}

/** A header value as it can be shown: at most 80 characters, control characters escaped. */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const text = value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
