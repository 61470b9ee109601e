// The TLS columns of probe: the same handshake a tls health check makes (src/health/probes/tls.ts),
// and what the certificate says.
import { isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { handshakeOnce } from '../../health/probes/tls.js';
import type { ClientCredentials } from '../credentials.js';

export interface TlsResult {
  ok: boolean;
  ms?: number;
  protocol?: string;
  subject?: string;
  issuer?: string;
  sans?: string[];
  /** Whether the certificate's SANs name the endpoint (what kubectl and talosctl verify). */
  coversEndpoint?: boolean;
  notAfter?: string;
  daysLeft?: number;
  /** Chain verified against the given CA (undefined without a CA). */
  verified?: boolean;
  verifyError?: string;
  error?: string;
}

/** Connection options shared by the TLS, HTTPS and gRPC checks: SNI for names, chain checked against the CA when given, host name checked separately. */
export function tlsConnectionOptions(host: string, credentials?: ClientCredentials): ConnectionOptions {
  return {
    host,
    ...(isIP(host) ? {} : { servername: host }),
    rejectUnauthorized: false,
    ...(credentials?.ca ? { ca: credentials.ca } : {}),
    ...(credentials?.cert && credentials.key ? { cert: credentials.cert, key: credentials.key } : {}),
  };
}

/** A TLS handshake: protocol, certificate subject, SANs, whether they cover `endpoint`, days to expiry. */
export async function checkTls(host: string, port: number, endpoint: string, timeoutMs: number, credentials?: ClientCredentials): Promise<TlsResult> {
  const result = await handshakeOnce(() => ({ ...tlsConnectionOptions(host, credentials), port }), timeoutMs, AbortSignal.timeout(timeoutMs), (socket) => certificate(socket, endpoint, credentials));
  if (!result.ok) return { ok: false, error: result.error ?? result.reason };
  if (!result.detail) return { ok: false, error: 'no server certificate' };
  return { ok: true, ms: result.latencyMs, ...result.detail };
}

function certificate(socket: TLSSocket, endpoint: string, credentials?: ClientCredentials): Omit<TlsResult, 'ok' | 'ms'> | undefined {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return undefined;
  const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, ''));
  const covers = isIP(endpoint) ? cert.checkIP(endpoint) !== undefined : cert.checkHost(endpoint) !== undefined;
  const notAfter = new Date(cert.validTo);
  return {
    protocol: socket.getProtocol() ?? undefined,
    subject: cert.subject.replace(/\n/g, ', '), issuer: cert.issuer.replace(/\n/g, ', '), sans, coversEndpoint: covers,
    notAfter: notAfter.toISOString(), daysLeft: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
    ...(credentials?.ca ? { verified: socket.authorized, ...(socket.authorized ? {} : { verifyError: String(socket.authorizationError) }) } : {}),
  };
}
