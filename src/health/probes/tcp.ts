// tcp: connect, then close. Proves the port accepts connections, nothing more.
// The one TCP connect of the project is the engine's connect-only probe(): health checks reach it through
// startTcp, `probe` through connectOnce.
import { tcpEngine, type Probing, type TcpEngine } from '../../lb/tcp/index.js';
import { asCheckResult, attempt, type Attempted } from './attempt.js';
import type { Probe, ProbeTarget, StartProbe } from './index.js';

/** Looked up once, as a Frontend does, not on every check. */
let engine: TcpEngine | undefined;

/**
 * One TCP connect to target, closed at once; latencyMs is the handshake as the client sees it. It uses the
 * balancer's own TCP engine (a bare libuv handle, no net.Socket and no stream): at a thousand servers a
 * second, a socket object per check was most of the checks' cost.
 */
export function connectOnce(target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<Attempted> {
  let probing: Probing | undefined;
  return attempt(timeoutMs, signal, (a) => {
    probing = (engine ??= tcpEngine()).probe(target.address, target.port, (error) => {
      if (error === undefined) a.settle(true, 'connect ok');
      else a.settle(false, `connect ${error}`, { error });
    });
  }, () => probing?.cancel());
}

/**
 * The checker's tcp check: the same connect in callback form, straight on the engine. The engine's attempt
 * is the checker's handle on it: cancelling closes the connection.
 */
export const startTcp: StartProbe = (target, _check, done) => {
  const started = performance.now();
  return (engine ??= tcpEngine()).probe(target.address, target.port, (error) => done({
    ok: error === undefined,
    reason: error === undefined ? 'connect ok' : `connect ${error}`,
    latencyMs: Math.round((performance.now() - started) * 10) / 10,
    at: Date.now(),
  }));
};

export const tcpProbe: Probe = (target, check, signal) => connectOnce(target, check.timeoutMs, signal).then(asCheckResult);
