import { isIP } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import { errorCode } from '../../health/probes/attempt.js';
import type { ClientCredentials } from '../credentials.js';
import { round } from './tcp.js';

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
export function checkTls(host: string, port: number, endpoint: string, timeoutMs: number, credentials?: ClientCredentials): Promise<TlsResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ ...tlsConnectionOptions(host, credentials), port });
    let settled = false;
    const done = (result: TlsResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: `timeout after ${timeoutMs}ms` }), timeoutMs);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (!cert) return done({ ok: false, error: 'no server certificate' });
      const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, ''));
      const covers = isIP(endpoint) ? cert.checkIP(endpoint) !== undefined : cert.checkHost(endpoint) !== undefined;
      const notAfter = new Date(cert.validTo);
      done({
        ok: true, ms: round(performance.now() - started), protocol: socket.getProtocol() ?? undefined,
        subject: cert.subject.replace(/\n/g, ', '), issuer: cert.issuer.replace(/\n/g, ', '), sans, coversEndpoint: covers,
        notAfter: notAfter.toISOString(), daysLeft: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
        ...(credentials?.ca ? { verified: socket.authorized, ...(socket.authorized ? {} : { verifyError: String(socket.authorizationError) }) } : {}),
      });
    });
    socket.once('error', (error) => done({ ok: false, error: errorCode(error) }));
  });
}
