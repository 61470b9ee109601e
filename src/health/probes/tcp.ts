// tcp: connect, then close. Proves the port accepts connections, nothing more.
import { connect, type Socket } from 'node:net';
import { attempt, errorCode } from './attempt.js';
import type { Probe } from './index.js';

export const tcpProbe: Probe = (target, check, signal) => {
  let socket: Socket | undefined;
  return attempt(check, signal, (a) => {
    socket = connect({ host: target.address, port: target.port });
    socket.once('connect', () => a.settle(true, 'connect ok'));
    socket.on('error', (error) => a.settle(false, `connect ${errorCode(error)}`));
    socket.once('close', () => a.settle(false, 'connect closed'));
  }, () => socket?.destroy());
};
