import type { Balancer, Pickable } from './types.js';

/**
 * Hash of the client address, by rendezvous (highest random weight) hashing: a client keeps its server
 * while that server stays eligible, and when one server goes down only its clients move.
 */
export function source(): Balancer {
  return {
    pick<T extends Pickable>(candidates: readonly T[], context: { clientAddress: string }): T | undefined {
      let best: T | undefined;
      let bestScore = -1;
      for (const candidate of candidates) {
        if (candidate.weight <= 0) continue;
        const score = fnv1a(`${context.clientAddress}|${candidate.key}`) * candidate.weight;
        if (score > bestScore) {
          best = candidate;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

/** 32-bit FNV-1a: fast, stable across runs and processes. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche so that keys differing in their last characters spread well.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
