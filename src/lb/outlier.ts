// Passive health for what an active check cannot see: a server that accepts connections but never answers
// (a frozen process — SIGSTOP, a stuck runtime — still has its kernel complete the TCP handshake, so a tcp
// check passes). Like Envoy's outlier detection, a server that failed a connection this way is ejected for a
// while — new connections avoid it — and each ejection in a row doubles the next, up to a cap; one answered
// connection resets that. Ejection never leaves a listener with nowhere to go: the backend still picks an
// ejected server when every other eligible one is ejected too (backend.ts).
import type { Server } from './server.js';

/** First ejection; doubled for each further one in a row (Envoy's base_ejection_time is 30 s too). */
export const EJECTION_BASE_MS = 30_000;
/** Ejections never last longer than this (Envoy's max_ejection_time default, 300 s). */
export const EJECTION_MAX_MS = 300_000;

/** How long the next ejection of a server with `ejections` ejections in a row lasts. */
export function ejectionMs(ejections: number): number {
  return Math.min(EJECTION_MAX_MS, EJECTION_BASE_MS * 2 ** Math.min(ejections, 16));
}

/**
 * Ejects `server` after a connection it did not answer. Returns the ejection's length when this started
 * one, or 0 when the server was ejected already (other connections in flight time out at the same moment).
 */
export function eject(server: Server, now: number): number {
  if (server.ejectedUntil > now) return 0;
  const ms = ejectionMs(server.ejections);
  server.ejections++;
  server.ejectedUntil = now + ms;
  return ms;
}

/** The server answered a connection: the next ejection starts from the base time again. */
export function answered(server: Server): void {
  server.ejections = 0;
}

/**
 * Of `candidates`, those not ejected at `now` — or all of them when every one is ejected, so that
 * passive health only ever steers traffic and never refuses it. Reads the clock only when some server
 * has been ejected.
 */
export function preferNotEjected(candidates: Server[]): Server[] {
  if (!candidates.some((s) => s.ejectedUntil !== 0)) return candidates;
  const now = Date.now();
  const fresh = candidates.filter((s) => {
    if (s.ejectedUntil !== 0 && s.ejectedUntil <= now) s.ejectedUntil = 0; // over: forget it
    return s.ejectedUntil === 0;
  });
  return fresh.length > 0 ? fresh : candidates;
}
