// A simulated control-plane node: kube-apiserver's health and version endpoints over TLS on the Kubernetes
// port and a TLS listener on the Talos port. stop() closes both listeners and every open connection, as a
// node that powers off would; start() brings it back on the same addresses.
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { joinHostPort } from '../spec/address.js';
import { answerKubeApi } from './kube-api.js';

export interface SimulatedNodeOptions {
  name: string;
  address: string;
  kubernetesPort: number;
  talosPort: number;
  /** PEM certificate (chain) and key presented on both ports. */
  cert: string;
  key: string;
}

export class SimulatedNode {
  readonly name: string;
  readonly address: string;
  readonly kubernetesPort: number;
  readonly talosPort: number;
  readonly #credentials: { cert: string; key: string };
  #servers: Array<HttpsServer | TlsServer> = [];
  readonly #sockets = new Set<Socket>();
  /** Requests answered on the Kubernetes port since the demo started. */
  requests = 0;

  constructor(options: SimulatedNodeOptions) {
    this.name = options.name;
    this.address = options.address;
    this.kubernetesPort = options.kubernetesPort;
    this.talosPort = options.talosPort;
    this.#credentials = { cert: options.cert, key: options.key };
  }

  get running(): boolean {
    return this.#servers.length > 0;
  }

  get kubernetesAddress(): string {
    return joinHostPort(this.address, this.kubernetesPort);
  }

  get talosAddress(): string {
    return joinHostPort(this.address, this.talosPort);
  }

  /** Listens on both ports. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return;
    const https = createHttpsServer({ ...this.#credentials, keepAliveTimeout: 30_000 }, (request, response) => {
      this.requests += 1;
      const answer = answerKubeApi({ node: this.name, address: this.address, port: this.kubernetesPort }, request.method ?? 'GET', request.url ?? '/');
      response.writeHead(answer.status, answer.headers);
      response.end(request.method === 'HEAD' ? undefined : answer.body);
    });
    const talos = createTlsServer({ ...this.#credentials, ALPNProtocols: ['h2', 'http/1.1'] }, (socket: TLSSocket) => {
      // Not apid: any bytes get one line back, enough to show which node a talos connection reached.
      socket.on('data', () => socket.write(`${this.name}: simulated Talos apid on ${this.talosAddress}\n`));
      socket.on('error', () => socket.destroy());
    });
    const servers = [https, talos];
    for (const server of servers) {
      server.on('connection', (socket: Socket) => this.#track(socket));
      server.on('tlsClientError', () => { /* a health check that only connects, or a client that gave up */ });
    }
    try {
      await listen(https, this.address, this.kubernetesPort);
      await listen(talos, this.address, this.talosPort);
    } catch (error) {
      await Promise.all(servers.map(closeServer));
      throw error;
    }
    this.#servers = servers;
  }

  /** Closes both listeners and every open connection. Idempotent. */
  async stop(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    const closed = Promise.all(servers.map(closeServer));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }
}

function listen(server: HttpsServer | TlsServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: HttpsServer | TlsServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
