// tcp: connect, then close. Proves the port accepts connections, nothing more.
// The one TCP connect of the project: health checks and `probe` both call connectOnce.
import { connect, type Socket } from 'node:net';
import { asCheckResult, attempt, errorCode, type Attempted } from './attempt.js';
import type { Probe, ProbeTarget } from './index.js';

/** One TCP connect to target, closed at once; latencyMs is the handshake as the client sees it. */
export function connectOnce(target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<Attempted> {
  let socket: Socket | undefined;
  return attempt(timeoutMs, signal, (a) => {
    socket = connect({ host: target.address, port: target.port });
    socket.once('connect', () => a.settle(true, 'connect ok'));
    socket.on('error', (error) => a.settle(false, `connect ${errorCode(error)}`, { error: errorCode(error) }));
    socket.once('close', () => a.settle(false, 'connect closed', { error: 'closed' }));
  }, () => socket?.destroy());
}

export const tcpProbe: Probe = (target, check, signal) => connectOnce(target, check.timeoutMs, signal).then(asCheckResult);
