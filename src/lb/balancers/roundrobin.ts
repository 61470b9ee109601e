import type { Balancer, Pickable } from './types.js';

/**
 * Smooth weighted round robin (as nginx does it): every pick adds each candidate's weight to its
 * running score, takes the highest and subtracts the total. Equal weights give a strict rotation,
 * and a candidate set that changes (a server goes down) needs no reset.
 */
export function roundrobin(): Balancer {
  const scores = new Map<string, number>();
  return {
    pick<T extends Pickable>(candidates: readonly T[]): T | undefined {
      let best: T | undefined;
      let bestScore = -Infinity;
      let total = 0;
      for (const candidate of candidates) {
        if (candidate.weight <= 0) continue;
        const score = (scores.get(candidate.key) ?? 0) + candidate.weight;
        scores.set(candidate.key, score);
        total += candidate.weight;
        if (score > bestScore) {
          best = candidate;
          bestScore = score;
        }
      }
      if (best) scores.set(best.key, bestScore - total);
      if (scores.size > candidates.length * 4) pruneTo(scores, candidates);
      return best;
    },
  };
}

function pruneTo(scores: Map<string, number>, candidates: readonly Pickable[]): void {
  const keep = new Set(candidates.map((c) => c.key));
  for (const key of scores.keys()) if (!keep.has(key)) scores.delete(key);
}
