// tcp: connect, then close. Proves the port accepts connections, nothing more.
// The one TCP connect of the project: health checks and `probe` both call connectOnce.
import { tcpEngine, type TcpEngine, type TcpStream } from '../../lb/tcp/index.js';
import { asCheckResult, attempt, type Attempted } from './attempt.js';
import type { Probe, ProbeTarget } from './index.js';

/** Looked up once, as a Frontend does, not on every check. */
let engine: TcpEngine | undefined;

/**
 * One TCP connect to target, closed at once; latencyMs is the handshake as the client sees it. It uses the
 * balancer's own TCP engine (libuv handles, no net.Socket): at a thousand servers a second, a socket
 * object per check was most of the checks' cost.
 */
export function connectOnce(target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<Attempted> {
  let stream: TcpStream | undefined;
  return attempt(timeoutMs, signal, (a) => {
    stream = (engine ??= tcpEngine()).connect(target.address, target.port, (error) => {
      if (error === undefined) a.settle(true, 'connect ok');
      else a.settle(false, `connect ${error}`, { error });
    });
  }, () => stream?.destroy());
}

export const tcpProbe: Probe = (target, check, signal) => connectOnce(target, check.timeoutMs, signal).then(asCheckResult);
