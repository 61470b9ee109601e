// A stand-in control-plane node for the rehearsal lab: kube-apiserver where it matters to a balancer, and the
// Talos API port. Each behaviour is taken from upstream source or documentation, cited where it is built:
// - TLS with a certificate for the node's addresses (and the names Talos adds: secrets/kubernetes_cert_sans.go);
// - /readyz, /livez, /healthz, /version and discovery (src/demo/kube-api.ts), resource lists, watch streams that
//   stay idle, an exec-like upgraded stream;
// - an HTTP/1.1 request without Host: 400 "missing required Host header" (Go net/http server.go readRequest);
// - bytes that are not a TLS handshake: plain HTTP gets Go's "Client sent an HTTP request to an HTTPS server."
//   (net/http server.go, tlsRecordHeaderLooksLikeHTTP), anything else — a PROXY protocol header — a handshake
//   error and a closed connection (crypto/tls conn.go "first record does not look like a TLS handshake");
// - anonymous requests: 401 when anonymous auth is off (Talos runs kube-apiserver with --anonymous-auth=false
//   since 1.2: controllers/k8s/control_plane_final.go), else only system:public-info-viewer's paths (403 others);
// - graceful shutdown as kube-apiserver does it (k8s.io/apiserver pkg/server/genericapiserver.go:
//   ShutdownDelayDuration "the API server keeps serving, /healthz will return 200, but /readyz will return
//   failure"), then listeners close, in-flight requests finish and watch streams end;
// - unready with the port open (etcd unreachable): /readyz fails, resource requests get 500;
// - the Talos API port: gRPC over HTTP/2 with mutual TLS (apid: internal/app/apid/pkg/provider/provider.go
//   tls.Mutual), answering MachineService/Version.
import { constants as cryptoConstants } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { answerKubeApi, type FailingChecks } from '../demo/kube-api.js';

export interface TlsMaterial { cert: string; key: string; clientCa: string }

export interface StandInOptions {
  name: string;
  kubernetesPort?: number;
  talosPort?: number;
  kubernetes: TlsMaterial;
  talos?: TlsMaterial;
  /** kube-apiserver's --anonymous-auth. */
  anonymousAuth: boolean;
  /** kube-apiserver's --shutdown-delay-duration. */
  shutdownDelayMs: number;
  /** Notable things the node saw, with the peer's address (the LB hosts' checks, the client). */
  onEvent(event: NodeEvent): void;
}

export type NodeEventKind = 'proxy-header' | 'not-tls' | 'http-on-tls' | 'missing-host' | 'unauthorized' | 'forbidden' | 'unready-answer' | 'talos-http1' | 'talos-no-client-cert';
export interface NodeEvent { kind: NodeEventKind | 'listening' | 'stopped' | 'terminating'; from?: string; at: number; detail?: string }

export type NodePhase = 'ready' | 'unready' | 'terminating' | 'stopped';

/** Paths anonymous users may read when anonymous auth is on (RBAC clusterrole system:public-info-viewer). */
const PUBLIC_INFO = /^\/(healthz|livez|readyz|version)(\/.*)?$/;
/** The User-Agent of the rehearsal's client (src/rehearse/client.ts); every other request is a balancer's check. */
export const CLIENT_AGENT = 'cluster-endpoint-rehearse';
/** The first five bytes of plain HTTP, as Go's net/http tlsRecordHeaderLooksLikeHTTP lists them. */
const HTTP_STARTS = ['GET /', 'HEAD ', 'POST ', 'PUT /', 'OPTIO'];
const PROXY_V2 = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** TLS record type "handshake": the first byte of every ClientHello. */
const TLS_HANDSHAKE = 0x16;

export class StandInNode {
  readonly name: string;
  #phase: NodePhase = 'stopped';
  #servers: Array<NetServer> = [];
  #inner: Array<HttpsServer | Http2SecureServer> = [];
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<ServerResponse>();
  #inFlight = 0;
  #shutdownTimer: NodeJS.Timeout | undefined;
  readonly #options: StandInOptions;

  constructor(options: StandInOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get phase(): NodePhase {
    return this.#phase;
  }

  /** Listens on every address (as kube-apiserver's default --bind-address 0.0.0.0) and becomes ready. */
  async start(): Promise<void> {
    if (this.#phase !== 'stopped') return;
    const https = this.#kubernetesServer();
    const servers: NetServer[] = [];
    const inner: Array<HttpsServer | Http2SecureServer> = [https];
    if (this.#options.kubernetesPort) servers.push(await this.#sniffing(this.#options.kubernetesPort, https));
    if (this.#options.talos && this.#options.talosPort) {
      const talos = this.#talosServer(this.#options.talos);
      inner.push(talos);
      servers.push(await this.#sniffing(this.#options.talosPort, talos));
    }
    this.#servers = servers;
    this.#inner = inner;
    this.#phase = 'ready';
    this.#emit('listening');
  }

  /** The API goes unready with the port open (true), or ready again. */
  setReady(ready: boolean): void {
    if (this.#phase === 'ready' || this.#phase === 'unready') this.#phase = ready ? 'ready' : 'unready';
  }

  /**
   * SIGTERM to kube-apiserver: /readyz fails at once, it keeps serving for the shutdown delay, then stops
   * listening, lets in-flight requests finish, ends watch streams and closes idle connections.
   */
  shutdown(): Promise<void> {
    if (this.#phase === 'stopped' || this.#phase === 'terminating') return Promise.resolve();
    this.#phase = 'terminating';
    this.#emit('terminating');
    return new Promise((resolve) => {
      this.#shutdownTimer = setTimeout(() => { void this.#stopListening(false).then(resolve); }, this.#options.shutdownDelayMs);
    });
  }

  /** The machine goes away: every listener and connection ends at once (the lab also cuts its link). */
  async halt(): Promise<void> {
    clearTimeout(this.#shutdownTimer);
    await this.#stopListening(true);
  }

  async #stopListening(now: boolean): Promise<void> {
    if (this.#phase === 'stopped') return;
    const servers = this.#servers;
    this.#servers = [];
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    // Watch streams end with the server (the machine going away just drops them).
    for (const watch of this.#watches) {
      if (now) watch.socket?.destroy();
      else watch.end();
    }
    this.#watches.clear();
    if (now) {
      for (const socket of this.#sockets) socket.destroy();
    } else {
      // In-flight requests finish (bounded), then the rest goes.
      const deadline = Date.now() + 5000;
      while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const socket of this.#sockets) socket.destroy();
    }
    this.#sockets.clear();
    for (const server of this.#inner) server.close();
    this.#inner = [];
    await closed;
    this.#phase = 'stopped';
    this.#emit('stopped');
  }

  #emit(kind: NodeEvent['kind'], from?: string, detail?: string): void {
    this.#options.onEvent({ kind, at: Date.now(), ...(from ? { from } : {}), ...(detail ? { detail } : {}) });
  }

  /** A raw listener that looks at the first bytes before TLS sees them, as Go's server does with what TLS rejects. */
  async #sniffing(port: number, tls: HttpsServer | Http2SecureServer): Promise<NetServer> {
    const server = createNetServer({ pauseOnConnect: false }, (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const from = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
      socket.once('data', (first: Buffer) => {
        socket.pause();
        if (first[0] === TLS_HANDSHAKE) {
          tls.emit('connection', replay(socket, first));
          return;
        }
        const head = first.subarray(0, 5).toString('latin1');
        if (head.startsWith('PROXY') || first.subarray(0, PROXY_V2.length).equals(PROXY_V2)) {
          this.#emit('proxy-header', from, first.subarray(0, 60).toString('latin1').split('\r\n')[0]);
          socket.destroy();
        } else if (HTTP_STARTS.includes(head)) {
          this.#emit('http-on-tls', from, first.toString('latin1').split('\r\n')[0]);
          socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
        } else {
          this.#emit('not-tls', from);
          socket.destroy();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '::', port, ipv6Only: false, exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
    return server;
  }

  #kubernetesServer(): HttpsServer {
    const o = this.#options;
    const server = createHttpsServer({
      cert: o.kubernetes.cert, key: o.kubernetes.key, ca: o.kubernetes.clientCa,
      // kube-apiserver asks for a client certificate and authenticates it when given (x509 authenticator).
      requestCert: true, rejectUnauthorized: false,
      // Host is checked below, with Go's words.
      requireHostHeader: false,
      // No session resumption: Node reports a resumed TLS 1.3 session as authorized whatever the first handshake
      // presented (measured: a check without a certificate got 200 from its third attempt on). kube-apiserver
      // keeps a resumed session's identity, so full handshakes change no outcome here.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      keepAliveTimeout: 30_000,
    }, (request, response) => this.#answer(request, response));
    server.on('tlsClientError', () => undefined);
    server.on('upgrade', (request: IncomingMessage, socket: Socket) => this.#upgrade(request, socket));
    return server;
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    // The TLS socket sits on a replayed stream and has no peer address: the rehearsal client names itself, a
    // script's curl says so, HAProxy's checks send no User-Agent.
    const agent = String(request.headers['user-agent'] ?? '');
    const from = agent.includes(CLIENT_AGENT) ? 'client' : agent ? `script:${agent.split('/')[0]}` : 'check';
    this.#inFlight++;
    response.on('close', () => { this.#inFlight--; });
    // Go's net/http rejects an HTTP/1.1 request without Host before any handler runs.
    if (request.httpVersion === '1.1' && request.headers.host === undefined) {
      this.#emit('missing-host', from, `${request.method} ${request.url}`);
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      response.end('400 Bad Request: missing required Host header');
      return;
    }
    const socket = request.socket as TLSSocket;
    const url = request.url ?? '/';
    const path = url.split('?')[0];
    if (socket.getPeerCertificate()?.subject && !socket.authorized) {
      return this.#status(response, 401, 'Unauthorized', 'Unauthorized', from, 'unauthorized');
    }
    const anonymous = !socket.authorized;
    if (anonymous && !this.#options.anonymousAuth) return this.#status(response, 401, 'Unauthorized', 'Unauthorized', from, 'unauthorized');
    if (anonymous && !PUBLIC_INFO.test(path)) {
      return this.#status(response, 403, 'Forbidden', `forbidden: User "system:anonymous" cannot get path "${path}"`, from, 'forbidden');
    }
    const failing = this.#failing();
    if (this.#phase === 'unready' && !PUBLIC_INFO.test(path)) {
      this.#emit('unready-answer', from, path);
      return this.#status(response, 500, 'InternalError', 'etcdserver: request timed out', from);
    }
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    if (/^\/(api\/v1|apis\/[^/]+\/[^/]+)\//.test(path) && request.method === 'GET') {
      if (query.get('watch') === '1' || query.get('watch') === 'true') return this.#watch(response, path);
      return this.#json(response, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] });
    }
    const answer = answerKubeApi({ node: this.name, address: socket.localAddress ?? '', port: socket.localPort ?? 0 }, request.method ?? 'GET', url, failing);
    response.writeHead(answer.status, answer.headers);
    response.end(request.method === 'HEAD' ? undefined : answer.body);
  }

  #failing(): FailingChecks {
    if (this.#phase === 'terminating') return { readyz: ['shutdown'] };
    if (this.#phase === 'unready') return { readyz: ['etcd-readiness'] };
    return {};
  }

  /** A watch: the stream opens with its first event and then stays idle until something ends it. */
  #watch(response: ServerResponse, path: string): void {
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-demo-node': this.name, 'cache-control': 'no-cache, private' });
    response.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'rehearsal', namespace: 'default', resourceVersion: '1', selfLink: path } } })}\n`);
    this.#watches.add(response);
    response.on('close', () => this.#watches.delete(response));
  }

  /** exec/attach/port-forward: 101 Switching Protocols, then the stream echoes what it gets (an interactive shell). */
  #upgrade(request: IncomingMessage, socket: Socket): void {
    const tls = socket as TLSSocket;
    if (!tls.authorized && !this.#options.anonymousAuth) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"kind":"Status","status":"Failure","reason":"Unauthorized","code":401}');
      return;
    }
    if (this.#phase === 'unready') {
      socket.end('HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\n\r\n');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${request.headers.upgrade ?? 'SPDY/3.1'}\r\nConnection: Upgrade\r\nX-Demo-Node: ${this.name}\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('error', () => socket.destroy());
  }

  #status(response: ServerResponse, code: number, reason: string, message: string, from: string, event?: NodeEventKind): void {
    if (event) this.#emit(event, from);
    this.#json(response, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  #json(response: ServerResponse, code: number, value: unknown): void {
    response.writeHead(code, { 'content-type': 'application/json', 'x-demo-node': this.name, 'cache-control': 'no-cache, private' });
    response.end(`${JSON.stringify(value)}\n`);
  }

  /** apid: gRPC over HTTP/2, a client certificate of the Talos CA required. */
  #talosServer(material: TlsMaterial): Http2SecureServer {
    const server = createSecureServer({
      cert: material.cert, key: material.key, ca: material.clientCa, requestCert: true, rejectUnauthorized: true,
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      // grpc-go closes a connection whose first bytes are not the HTTP/2 preface at once; Node would wait 10 s.
      unknownProtocolTimeout: 100,
    });
    server.on('unknownProtocol', (socket: TLSSocket) => {
      this.#emit('talos-http1', 'check');
      socket.destroy();
    });
    // The rehearsal's client always presents a talosctl certificate: a handshake without one is a balancer's check.
    server.on('tlsClientError', (error: NodeJS.ErrnoException) => { if (/certificate/i.test(String(error.code ?? error.message))) this.#emit('talos-no-client-cert', 'check'); });
    server.on('sessionError', () => undefined);
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.#talosCall(stream, headers));
    return server;
  }

  #talosCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      if (headers['content-type'] !== 'application/grpc' || headers[':path'] !== '/machine.MachineService/Version') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
        return;
      }
      const message = versionResponse(this.name);
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-demo-node': this.name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  }
}

/**
 * The socket as a stream that starts with the bytes already read. (TLS on a net.Socket reads its handle
 * directly and would miss bytes put back with unshift(); on a plain Duplex it reads through the stream.)
 */
function replay(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read() { socket.resume(); },
    write(chunk: Buffer, _encoding, callback) { socket.write(chunk, callback); },
    final(callback) { socket.end(); callback(); },
    destroy(error, callback) { socket.destroy(); callback(error); },
  });
  socket.on('data', (chunk: Buffer) => { if (!stream.push(chunk)) socket.pause(); });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  stream.push(first);
  return stream;
}

/** machine.VersionResponse { messages: [{ metadata: { hostname }, version: { tag } }] }, protobuf by hand. */
function versionResponse(hostname: string): Buffer {
  const field = (number: number, value: Buffer | string) => {
    const bytes = Buffer.from(value);
    return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
  };
  const version = Buffer.concat([field(1, field(1, hostname)), field(2, field(1, 'v1.12.0'))]);
  return field(1, version);
}
