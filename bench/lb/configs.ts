// Pure: the bench topology in, configuration text for our balancer, HAProxy and nginx out.
// Both proxies get the same frontends, servers, balancing, checks and timeouts.

export interface Backend {
  name: string;
  address: string;
}

/** The frontends of one proxy. */
export interface FrontendPorts {
  /** Bulk throughput → iperf3 on the worker (one server: iperf3's control and data connections must meet). */
  bulk: number;
  /** Request rates → nginx on every control-plane address. */
  http: number;
  /** Idle connections → the holder on every control-plane address. */
  hold: number;
}

export interface Topology {
  /** Address both proxies bind their frontends to. */
  bind: string;
  controlPlane: Backend[];
  workers: Backend[];
  /** Both proxies run at once (only one is loaded at a time), so each has its own frontend ports. */
  frontends: { ours: FrontendPorts; haproxy: FrontendPorts };
  ports: { iperf: number; nginx: number; holder: number; admin: number };
  /** Connections per frontend before new ones wait; above the idle-connection count. */
  maxConnections: number;
}

/** Health checks on both: tcp connect every 2s, 1s timeout, rise 2, fall 2. */
const CHECK = { intervalS: 2, timeoutS: 1, rise: 2, fall: 2 } as const;

export function ourSpec(t: Topology): string {
  const f = t.frontends.ours;
  const nodes = (list: Backend[]) => list.map((b) => `  - { name: ${b.name}, address: ${b.address} }`).join('\n');
  return `# Written by bench/run.ts; not for production.
cluster: { name: bench }
endpoint: ${t.bind}
controlPlane:
${nodes(t.controlPlane)}
workers:
${nodes(t.workers)}
listeners:
  - { name: bulk, port: ${f.bulk}, targetPort: ${t.ports.iperf}, targets: workers }
  - { name: http, port: ${f.http}, targetPort: ${t.ports.nginx}, targets: controlPlane }
  - { name: hold, port: ${f.hold}, targetPort: ${t.ports.holder}, targets: controlPlane }
healthCheck:
  type: tcp
  interval: ${CHECK.intervalS}s
  timeout: ${CHECK.timeoutS}s
  healthyThreshold: ${CHECK.rise}
  unhealthyThreshold: ${CHECK.fall}
deregistrationDelay: 1s
balancer:
  bind: ${t.bind}
  admin: 127.0.0.1:${t.ports.admin}
  balance: roundrobin
  maxConnections: ${t.maxConnections}
  watch: false
`;
}

export function haproxyConfig(t: Topology): string {
  const f = t.frontends.haproxy;
  const servers = (list: Backend[], port: number) => list.map((b) => `    server ${b.name} ${b.address}:${port}`).join('\n');
  // Equivalent to ourSpec: one thread, tcp mode, roundrobin, the same checks, retries 2 with redispatch
  // (our retries), close a server's sessions when it is marked down (our onMarkedDown: close), long
  // timeouts (our idle timeout is 1h), no logging.
  return `# Written by bench/run.ts; not for production.
global
    nbthread 1
    maxconn ${t.maxConnections}

defaults
    mode tcp
    balance roundrobin
    maxconn ${t.maxConnections}
    retries 2
    option redispatch
    timeout connect 10s
    timeout client 1h
    timeout server 1h
    timeout check ${CHECK.timeoutS}s
    default-server check inter ${CHECK.intervalS}s fastinter ${CHECK.intervalS}s rise ${CHECK.rise} fall ${CHECK.fall} on-marked-down shutdown-sessions

frontend bulk
    bind ${t.bind}:${f.bulk}
    default_backend bulk

backend bulk
${servers(t.workers, t.ports.iperf)}

frontend http
    bind ${t.bind}:${f.http}
    default_backend http

backend http
${servers(t.controlPlane, t.ports.nginx)}

frontend hold
    bind ${t.bind}:${f.hold}
    default_backend hold

backend hold
${servers(t.controlPlane, t.ports.holder)}
`;
}

/** nginx as the HTTP backend: one process, no logging, keep-alive that outlasts the test. */
export function nginxConfig(t: Topology, tempDir: string): string {
  const listens = t.controlPlane.map((b) => `        listen ${b.address}:${t.ports.nginx} backlog=4096;`).join('\n');
  return `# Written by bench/run.ts
daemon off;
master_process off;
worker_processes 1;
pid ${tempDir}/nginx.pid;
error_log ${tempDir}/nginx-error.log warn;
events {
    worker_connections 8192;
}
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path ${tempDir}/nginx-body;
    server {
${listens}
        location / {
            return 200 "ok\\n";
        }
    }
}
`;
}
