// Admin outputs are produced as a sequence of text pieces and turned into bytes a slice at a time, so that
// formatting 1,000 servers for /metrics or the status page never holds the event loop that carries the
// connections for more than a few milliseconds at once.

/** How long one slice of formatting may hold the event loop before it lets pending I/O run. */
export const SLICE_MS = 4;

/** Joins `pieces` into bytes, yielding to the event loop (setImmediate) whenever a slice took sliceMs. */
export async function renderInSlices(pieces: Iterable<string>, sliceMs = SLICE_MS): Promise<Buffer> {
  const parts: Buffer[] = [];
  let pending: string[] = [];
  let started = performance.now();
  for (const piece of pieces) {
    pending.push(piece);
    if (performance.now() - started < sliceMs) continue;
    parts.push(Buffer.from(pending.join(''), 'utf8'));
    pending = [];
    await new Promise<void>((resolve) => setImmediate(resolve));
    started = performance.now();
  }
  parts.push(Buffer.from(pending.join(''), 'utf8'));
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * JSON.stringify(value, null, 2) as pieces: lists and objects down to `depth` levels are written item by item,
 * what lies deeper in one piece. The pieces joined are exactly JSON.stringify's text.
 */
export function* jsonPieces(value: unknown, depth = 4, indent = ''): Generator<string> {
  if (depth > 0 && value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    const inner = `${indent}  `;
    if (Array.isArray(value)) {
      if (value.length === 0) { yield '[]'; return; }
      yield '[\n';
      for (let i = 0; i < value.length; i++) {
        yield inner;
        const item: unknown = value[i];
        // As JSON.stringify: what JSON cannot hold is null in a list.
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') yield 'null';
        else yield* jsonPieces(item, depth - 1, inner);
        yield i < value.length - 1 ? ',\n' : '\n';
      }
      yield `${indent}]`;
      return;
    }
    // …and a key whose value it cannot hold is left out of an object.
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
    if (entries.length === 0) { yield '{}'; return; }
    yield '{\n';
    for (let i = 0; i < entries.length; i++) {
      const [key, item] = entries[i];
      yield `${inner}${JSON.stringify(key)}: `;
      yield* jsonPieces(item, depth - 1, inner);
      yield i < entries.length - 1 ? ',\n' : '\n';
    }
    yield `${indent}}`;
    return;
  }
  const text = JSON.stringify(value, null, 2) ?? 'null';
  yield indent === '' ? text : text.replace(/\n/g, `\n${indent}`);
}
