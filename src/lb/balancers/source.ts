import { fnv1a } from '../../hash.js';
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
        const score = spread(`${context.clientAddress}|${candidate.key}`) * candidate.weight;
        if (score > bestScore) {
          best = candidate;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

/** FNV-1a with part of a finalizer, so that keys differing in their last characters spread well. */
function spread(text: string): number {
  let hash = fnv1a(text);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
