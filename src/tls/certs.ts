// Certificates for the demo and the tests: a throw-away CA and leaf certificates signed by it (ECDSA P-256).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface PemPair { cert: string; key: string }
export interface CertificateAuthority extends PemPair { keys: webcrypto.CryptoKeyPair; certificate: x509.X509Certificate }

const DAY_MS = 86_400_000;

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function createCa(commonName = 'cluster-endpoint demo CA', days = 365): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: `CN=${commonName}`, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + days * DAY_MS),
    keys, signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { keys, certificate, cert: certificate.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** A server (and client) certificate for the given names and IP addresses, signed by `ca`. */
export async function issueCertificate(ca: CertificateAuthority, options: { commonName: string; sans: string[]; organization?: string; days?: number; client?: boolean }): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const subject = `CN=${options.commonName}${options.organization ? `, O=${options.organization}` : ''}`;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject, issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + (options.days ?? 365) * DAY_MS),
    publicKey: keys.publicKey, signingKey: ca.keys.privateKey, signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(options.client ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(options.sans.length ? [new x509.SubjectAlternativeNameExtension(options.sans.map((v) => ({ type: isIP(v) ? 'ip' as const : 'dns' as const, value: v })))] : []),
    ],
  });
  return { cert: certificate.toString('pem'), key: await exportKey(keys.privateKey) };
}

function serial(): string {
  return webcrypto.getRandomValues(new Uint8Array(8)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '01');
}
