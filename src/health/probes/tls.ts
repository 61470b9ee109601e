// tls: a full TLS handshake, then close. Proves the server's TLS stack answers (and, with caFile, who it is).
// The one TLS handshake of the project: health checks and `probe` both call handshakeOnce.
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { asCheckResult, attempt, errorCode, tlsOptions, type Attempted } from './attempt.js';
import type { Probe } from './index.js';

/**
 * One TLS handshake with `options` (host, port, CA, client certificate), closed at once. `inspect` reads
 * what the caller needs from the connected socket (the certificate, for probe) before it closes.
 * Options come from a function so that reading certificate files counts against the attempt's timeout.
 */
export function handshakeOnce<T = undefined>(
  options: () => ConnectionOptions | Promise<ConnectionOptions>, timeoutMs: number, signal: AbortSignal,
  inspect?: (socket: TLSSocket) => T,
): Promise<Attempted<T>> {
  let socket: TLSSocket | undefined;
  return attempt<T>(timeoutMs, signal, async (a) => {
    const resolved = await options();
    if (a.settled) return;
    let connected = false;
    const tls = connect(resolved);
    socket = tls;
    tls.once('connect', () => { connected = true; });
    tls.once('secureConnect', () => a.settle(true, `tls ${tls.getProtocol() ?? 'handshake'}`, inspect ? { detail: inspect(tls) } : undefined));
    tls.on('error', (error) => a.settle(false, `${connected ? 'tls' : 'connect'} ${errorCode(error)}`, { error: errorCode(error) }));
    tls.once('close', () => a.settle(false, `${connected ? 'tls' : 'connect'} closed`, { error: 'closed' }));
  }, () => socket?.destroy());
}

export const tlsProbe: Probe = (target, check, signal) => handshakeOnce(() => tlsOptions(target, check), check.timeoutMs, signal).then(asCheckResult);
