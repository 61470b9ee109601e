// Deterministic bulk data for integrity checks: the node program sends it, the client recomputes its hash.
import { createHash } from 'node:crypto';

const BLOCK = 64 * 1024;

/** Block `index` of the stream for `seed`: xorshift32 bytes, so no two blocks or seeds are alike. */
export function payloadBlock(seed: number, index: number): Buffer {
  const block = Buffer.allocUnsafe(BLOCK);
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0 || 1;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    block.writeUInt32LE(x, i);
  }
  return block;
}

/** Calls `write` with the first `bytes` bytes of the stream for `seed`, block by block. */
export function* payload(seed: number, bytes: number): Generator<Buffer> {
  for (let index = 0, left = bytes; left > 0; index++, left -= BLOCK) {
    const block = payloadBlock(seed, index);
    yield left >= BLOCK ? block : block.subarray(0, left);
  }
}

/** sha256 (hex) of the first `bytes` bytes of the stream for `seed`. */
export function payloadDigest(seed: number, bytes: number): string {
  const hash = createHash('sha256');
  for (const block of payload(seed, bytes)) hash.update(block);
  return hash.digest('hex');
}
