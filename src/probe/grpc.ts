// Just enough gRPC and protobuf for one unary call: a length-prefixed frame out, fields decoded by hand.

/** A gRPC message frame: 1 byte compressed flag (0), 4 bytes big-endian length, the message. */
export function grpcFrame(message: Uint8Array = new Uint8Array()): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Splits a response body into its messages; throws on a truncated or compressed frame. */
export function grpcMessages(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 5) throw new Error('truncated gRPC frame');
    if (body[offset] !== 0) throw new Error('compressed gRPC frame (not requested)');
    const length = body.readUInt32BE(offset + 1);
    if (offset + 5 + length > body.length) throw new Error('truncated gRPC message');
    messages.push(body.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return messages;
}

export interface ProtoField { field: number; wireType: number; value: bigint | Buffer }

function readVarint(buf: Buffer, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = start; i < buf.length && i < start + 10; i++) {
    const byte = buf[i];
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    shift += 7n;
  }
  throw new Error('bad protobuf varint');
}

/** Decodes one protobuf message into its fields (varint, 64-bit, length-delimited, 32-bit). */
export function protoFields(buf: Buffer): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const key = readVarint(buf, offset);
    offset = key.next;
    const field = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    switch (wireType) {
      case 0: {
        const v = readVarint(buf, offset);
        fields.push({ field, wireType, value: v.value });
        offset = v.next;
        break;
      }
      case 1:
        fields.push({ field, wireType, value: buf.subarray(offset, offset + 8) });
        offset += 8;
        break;
      case 2: {
        const length = readVarint(buf, offset);
        const end = length.next + Number(length.value);
        if (end > buf.length) throw new Error('truncated protobuf field');
        fields.push({ field, wireType, value: buf.subarray(length.next, end) });
        offset = end;
        break;
      }
      case 5:
        fields.push({ field, wireType, value: buf.subarray(offset, offset + 4) });
        offset += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
  return fields;
}

/** The length-delimited fields with this number. */
export function bytesFields(fields: ProtoField[], field: number): Buffer[] {
  return fields.filter((f) => f.field === field && f.wireType === 2).map((f) => f.value as Buffer);
}

export function stringField(fields: ProtoField[], field: number): string | undefined {
  const value = bytesFields(fields, field).at(-1);
  return value?.toString('utf8');
}

/** Talos machine.VersionResponse → one entry per answering node (talosctl version fields). */
export interface TalosVersion { hostname?: string; tag?: string; sha?: string; os?: string; arch?: string; error?: string }

/**
 * machine.proto: VersionResponse { repeated Version messages = 1 }; Version { common.Metadata metadata = 1;
 * VersionInfo version = 2; ... }; VersionInfo { string tag = 1; string sha = 2; string built = 3;
 * string go_version = 4; string os = 5; string arch = 6 }; common.Metadata { string hostname = 1; string error = 2; ... }.
 */
export function decodeTalosVersion(message: Buffer): TalosVersion[] {
  return bytesFields(protoFields(message), 1).map((entry) => {
    const version = protoFields(entry);
    const metadata = protoFields(bytesFields(version, 1)[0] ?? Buffer.alloc(0));
    const info = protoFields(bytesFields(version, 2)[0] ?? Buffer.alloc(0));
    return {
      hostname: stringField(metadata, 1), error: stringField(metadata, 2),
      tag: stringField(info, 1), sha: stringField(info, 2), os: stringField(info, 5), arch: stringField(info, 6),
    };
  });
}
