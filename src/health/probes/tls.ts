// tls: a full TLS handshake, then close. Proves the server's TLS stack answers (and, with caFile, who it is).
import { connect, type TLSSocket } from 'node:tls';
import { attempt, errorCode, tlsOptions } from './attempt.js';
import type { Probe } from './index.js';

export const tlsProbe: Probe = (target, check, signal) => {
  let socket: TLSSocket | undefined;
  return attempt(check, signal, async (a) => {
    const options = await tlsOptions(target, check);
    if (a.settled) return;
    let connected = false;
    socket = connect(options);
    socket.once('connect', () => { connected = true; });
    socket.once('secureConnect', () => a.settle(true, `tls ${socket?.getProtocol() ?? 'handshake'}`));
    socket.on('error', (error) => a.settle(false, `${connected ? 'tls' : 'connect'} ${errorCode(error)}`));
    socket.once('close', () => a.settle(false, `${connected ? 'tls' : 'connect'} closed`));
  }, () => socket?.destroy());
};
