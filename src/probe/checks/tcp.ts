// The TCP column of probe: the same connect a tcp health check makes (src/health/probes/tcp.ts).
import { connectOnce } from '../../health/probes/tcp.js';

export interface TcpResult { ok: boolean; ms?: number; error?: string }

/** One TCP connect; its time is the handshake (SYN → SYN/ACK) as the client sees it. */
export async function checkTcp(host: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const result = await connectOnce({ address: host, port }, timeoutMs, AbortSignal.timeout(timeoutMs));
  return result.ok ? { ok: true, ms: result.latencyMs } : { ok: false, error: result.error ?? result.reason };
}
