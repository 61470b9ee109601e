import { connect, constants } from 'node:http2';
import { errorCode } from '../../health/probes/attempt.js';
import { joinHostPort } from '../../spec/address.js';
import type { ClientCredentials } from '../credentials.js';
import { decodeTalosVersion, grpcFrame, grpcMessages, type TalosVersion } from '../grpc.js';
import { tlsConnectionOptions } from './tls.js';

export const TALOS_VERSION_PATH = '/machine.MachineService/Version';

export interface TalosResult { ok: boolean; versions?: TalosVersion[]; grpcStatus?: number; error?: string }

/**
 * An authenticated call to apid: gRPC over HTTP/2 with the talosconfig's mutual TLS — POST
 * /machine.MachineService/Version with an empty message, the answer decoded by hand (see grpc.ts).
 */
export function checkTalosVersion(host: string, port: number, timeoutMs: number, credentials: ClientCredentials): Promise<TalosResult> {
  return new Promise((resolve) => {
    const options = tlsConnectionOptions(host, credentials);
    // Chain verified against the talosconfig CA; the name is checked by the TLS check (coversEndpoint).
    const session = connect(`https://${joinHostPort(host, port)}`, { ...options, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    let settled = false;
    const done = (result: TalosResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: `timeout after ${timeoutMs}ms` }), timeoutMs);
    session.on('error', (error) => done({ ok: false, error: errorCode(error) }));
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: TALOS_VERSION_PATH,
      'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'cluster-endpoint-probe',
    });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let grpcStatus: number | undefined;
    let grpcMessage: string | undefined;
    const readStatus = (headers: Record<string, unknown>) => {
      if (headers['grpc-status'] !== undefined) grpcStatus = Number(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(headers['grpc-message']));
    };
    stream.on('response', (headers) => { status = Number(headers[':status']); readStatus(headers); });
    stream.on('trailers', (headers) => readStatus(headers));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => done({ ok: false, error: errorCode(error) }));
    stream.on('end', () => {
      if (status !== 200) return done({ ok: false, error: `HTTP status ${status ?? 'none'}` });
      if (grpcStatus !== 0) return done({ ok: false, grpcStatus, error: `gRPC status ${grpcStatus ?? 'missing'}${grpcMessage ? `: ${grpcMessage}` : ''}` });
      try {
        const versions = grpcMessages(Buffer.concat(chunks)).flatMap((m) => decodeTalosVersion(m));
        done({ ok: versions.length > 0 && versions.every((v) => !v.error), versions, grpcStatus, ...(versions.length === 0 ? { error: 'empty VersionResponse' } : {}) });
      } catch (error) {
        done({ ok: false, error: (error as Error).message });
      }
    });
    stream.end(grpcFrame());
  });
}
