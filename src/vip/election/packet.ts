// The advertisement on the wire: a small binary packet authenticated with HMAC-SHA256 over everything before
// the tag. A sequence number that only grows (microseconds since the epoch, bumped per packet) stops replays,
// across restarts of the sender too.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAGIC = Buffer.from('CEVR', 'ascii');
export const PROTOCOL_VERSION = 1;
export const TYPE_ADVERT = 1;
/** Default UDP port for advertisements (5798 after the VRRPv3 RFC number). */
export const DEFAULT_VIP_PORT = 5798;
const TAG_BYTES = 32;
const HEADER_BYTES = 4 + 1 + 1 + 1 + 1 + 4 + 8 + 1;
const MAX_NAME_BYTES = 63;

export interface Advert {
  virtualRouterId: number;
  /** 0 = the sender releases the VIP now. */
  priority: number;
  advertIntervalMs: number;
  sequence: bigint;
  sender: string;
}

export type DropReason = 'malformed' | 'auth' | 'router-id' | 'unknown-peer' | 'source' | 'replay';

export function encodeAdvert(advert: Advert, key: string): Buffer {
  const name = Buffer.from(advert.sender, 'utf8');
  if (name.length > MAX_NAME_BYTES) throw new RangeError(`peer name longer than ${MAX_NAME_BYTES} bytes`);
  const body = Buffer.alloc(HEADER_BYTES + name.length);
  MAGIC.copy(body, 0);
  body.writeUInt8(PROTOCOL_VERSION, 4);
  body.writeUInt8(TYPE_ADVERT, 5);
  body.writeUInt8(advert.virtualRouterId, 6);
  body.writeUInt8(advert.priority, 7);
  body.writeUInt32BE(advert.advertIntervalMs, 8);
  body.writeBigUInt64BE(advert.sequence, 12);
  body.writeUInt8(name.length, 20);
  name.copy(body, HEADER_BYTES);
  return Buffer.concat([body, tag(body, key)]);
}

/** Checks framing and the tag; the caller checks router id, sender and sequence. */
export function decodeAdvert(packet: Buffer, key: string): { ok: true; advert: Advert } | { ok: false; reason: DropReason } {
  if (packet.length < HEADER_BYTES + TAG_BYTES || !packet.subarray(0, 4).equals(MAGIC)) return { ok: false, reason: 'malformed' };
  if (packet.readUInt8(4) !== PROTOCOL_VERSION || packet.readUInt8(5) !== TYPE_ADVERT) return { ok: false, reason: 'malformed' };
  const nameLength = packet.readUInt8(20);
  if (packet.length !== HEADER_BYTES + nameLength + TAG_BYTES) return { ok: false, reason: 'malformed' };
  const body = packet.subarray(0, HEADER_BYTES + nameLength);
  if (!timingSafeEqual(tag(body, key), packet.subarray(body.length))) return { ok: false, reason: 'auth' };
  return {
    ok: true,
    advert: {
      virtualRouterId: packet.readUInt8(6),
      priority: packet.readUInt8(7),
      advertIntervalMs: packet.readUInt32BE(8),
      sequence: packet.readBigUInt64BE(12),
      sender: body.subarray(HEADER_BYTES).toString('utf8'),
    },
  };
}

function tag(body: Buffer, key: string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

/** Sequence numbers for one sender: microseconds since the epoch, strictly increasing. */
export class SequenceSource {
  #last = 0n;
  constructor(private readonly nowMs: () => number = Date.now) {}
  next(): bigint {
    const clock = BigInt(Math.floor(this.nowMs() * 1000));
    this.#last = clock > this.#last ? clock : this.#last + 1n;
    return this.#last;
  }
}

/**
 * Accepts a sender's packet only when its sequence is above the last one accepted. Before the first packet of a
 * sender the floor is "now − maxAgeMs", so a packet recorded long ago cannot be replayed after a restart.
 */
export class ReplayGuard {
  readonly #last = new Map<string, bigint>();
  constructor(private readonly maxAgeMs: number, private readonly nowMs: () => number = Date.now) {}
  accept(sender: string, sequence: bigint): boolean {
    const floor = this.#last.get(sender) ?? BigInt(Math.floor((this.nowMs() - this.maxAgeMs) * 1000));
    if (sequence <= floor) return false;
    this.#last.set(sender, sequence);
    return true;
  }
}
