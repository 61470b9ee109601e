// Stand-ins for what probe talks to, on loopback: a kube-apiserver (HTTPS, /readyz and /version from the
// demo's simulated API) and a Talos apid (gRPC over HTTP/2 with mutual TLS, only /machine.MachineService/Version).
// There is no Talos here: the apid stand-in checks the request path and the client certificate, and answers
// with a VersionResponse encoded by hand below.
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { answerKubeApi } from '../../../src/demo/kube-api.js';

export interface PemPair { cert: string; key: string }

export interface Closable { close(): Promise<void> }

function closer(server: HttpsServer | Http2SecureServer, sockets: Set<{ destroy(): void }>): Closable {
  return { close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) };
}

export async function startKubeApi(o: { node: string; host: string; port: number; tls: PemPair; ca: string; requireClientCertificate?: boolean }): Promise<Closable & { requests: Array<{ path: string; authorized: boolean }> }> {
  const requests: Array<{ path: string; authorized: boolean }> = [];
  const server = createHttpsServer({ cert: o.tls.cert, key: o.tls.key, ca: o.ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const authorized = (req.socket as TLSSocket).authorized;
    requests.push({ path: req.url ?? '', authorized });
    if (o.requireClientCertificate && !authorized) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","status":"Failure","reason":"Unauthorized","code":401}');
      return;
    }
    const answer = answerKubeApi({ node: o.node, address: o.host, port: o.port }, req.method ?? 'GET', req.url ?? '/');
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  const sockets = new Set<{ destroy(): void }>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(o.port, o.host, () => resolve()); });
  return { ...closer(server, sockets), requests };
}

// --- a minimal protobuf encoder for the stand-in's answer ---
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
}
function field(number: number, value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
  return Buffer.from([...varint((number << 3) | 2), ...varint(bytes.length), ...bytes]);
}

/** machine.VersionResponse { messages: [ { metadata: { hostname }, version: { tag, sha, os, arch } } ] } */
export function encodeVersionResponse(hostname: string, tag: string): Buffer {
  const metadata = field(1, hostname);
  const info = Buffer.concat([field(1, tag), field(2, 'abcdef0'), field(3, '2026-01-01T00:00:00Z'), field(4, 'go1.24.0'), field(5, 'linux'), field(6, 'amd64')]);
  const version = Buffer.concat([field(1, metadata), field(2, info), Buffer.from([0x20, 0x01]) /* an unknown varint field: skipped */]);
  return field(1, version);
}

export interface TalosCall { path: string; clientCommonName?: string; body: Buffer }

export async function startTalosApi(o: { hostname: string; host: string; port: number; tls: PemPair; ca: string; tag?: string }): Promise<Closable & { calls: TalosCall[] }> {
  const calls: TalosCall[] = [];
  // Like apid: a client certificate signed by the cluster CA is required.
  const server = createSecureServer({ cert: o.tls.cert, key: o.tls.key, ca: o.ca, requestCert: true, rejectUnauthorized: true });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const socket = stream.session?.socket as TLSSocket | undefined;
      const call = { path: String(headers[':path']), clientCommonName: String(socket?.getPeerCertificate().subject?.CN ?? ''), body: Buffer.concat(chunks) };
      calls.push(call);
      if (headers['content-type'] !== 'application/grpc' || call.path !== '/machine.MachineService/Version') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
        return;
      }
      const message = encodeVersionResponse(o.hostname, o.tag ?? 'v1.12.0');
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  const sockets = new Set<{ destroy(): void }>();
  server.on('connection', (s: { destroy(): void; on(e: string, f: () => void): void }) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('secureConnection', () => undefined);
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(o.port, o.host, () => resolve()); });
  return { ...closer(server, sockets), calls };
}
