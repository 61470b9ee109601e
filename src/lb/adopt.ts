import { Socket } from 'node:net';
import type { ReadBuffer } from './read-buffer.js';

/**
 * Gives an accepted connection an `onread` buffer. Node 20's net.Server has no such option (only
 * net.connect does), so the accepted socket's handle moves to a new Socket created with one. It relies
 * on the `_handle` field, so when that is missing (another Node version) it returns undefined and the
 * caller keeps the original socket and its 'data' events. The server must use `pauseOnConnect`, so no
 * byte is read before the move.
 */
export function adoptAccepted(accepted: Socket, reader: ReadBuffer): Socket | undefined {
  const holder = accepted as unknown as { _handle: object | null };
  const handle = holder._handle;
  if (!handle || typeof (handle as { readStart?: unknown }).readStart !== 'function') return undefined;
  holder._handle = null;
  try {
    const socket = new Socket({ handle, allowHalfOpen: true, readable: true, writable: true, onread: reader.onread } as ConstructorParameters<typeof Socket>[0]);
    // The old object no longer owns the handle; destroying it only releases the server's connection count.
    accepted.destroy();
    return socket;
  } catch {
    holder._handle = handle;
    return undefined;
  }
}
