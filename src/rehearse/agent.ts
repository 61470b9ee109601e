// The processes rehearse runs inside the lab's namespaces are this program again (self.ts), started with
// CLUSTER_ENDPOINT_REHEARSE_AGENT=<role>: a stand-in node, the client, or an LB host's init. Each reads its
// JSON config from the file CLUSTER_ENDPOINT_REHEARSE_CONFIG names, takes commands as JSON lines on stdin and
// reports events as JSON lines on stdout; it ends when stdin closes (its parent is gone) or on "exit".
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { StandInNode, type StandInOptions } from './apiserver.js';
import { RehearsalClient, type ClientOptions } from './client.js';
import { AGENT_CONFIG_ENV, AGENT_ENV } from './self.js';

export type NodeAgentConfig = Omit<StandInOptions, 'onEvent'>;
export type ClientAgentConfig = Omit<ClientOptions, 'emit'>;

export interface EngineCommand {
  argv: string[];
  env?: Record<string, string>;
  /** What a reload is: a signal to the engine's main process (haproxy -Ws: SIGUSR2, keepalived and serve: SIGHUP). */
  reloadSignal: NodeJS.Signals;
}

export interface LbAgentConfig {
  /** Engines by name (haproxy, keepalived, serve), started in this order. */
  engines: Record<string, EngineCommand>;
  /** Directories to create in the host's own /run (a tmpfs, private to it), e.g. /run/haproxy. */
  runDirs: string[];
}

export type AgentCommand =
  | { cmd: 'exit' }
  | { cmd: 'shutdown' } | { cmd: 'start' } | { cmd: 'halt' } | { cmd: 'ready' } | { cmd: 'unready' }
  | { cmd: 'stop' }
  | { cmd: 'engine-start'; engine: string } | { cmd: 'engine-crash'; engine: string } | { cmd: 'engine-reload'; engine: string }
  | { cmd: 'crash-all' }
  | { cmd: 'unix'; id: number; path: string; text: string }
  | { cmd: 'http'; id: number; method: string; url: string; headers: Record<string, string>; body?: string };

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function commands(handle: (command: AgentCommand) => void | Promise<void>, onEnd: () => void): void {
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      let command: AgentCommand;
      try { command = JSON.parse(line) as AgentCommand; } catch { return; }
      void Promise.resolve(handle(command)).catch((error: unknown) => emit({ e: 'error', at: Date.now(), message: String(error) }));
    })
    .on('close', onEnd);
}

export async function runAgent(role: string): Promise<void> {
  const path = process.env[AGENT_CONFIG_ENV];
  if (!path) throw new Error(`${AGENT_CONFIG_ENV} is not set`);
  const config = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  switch (role) {
    case 'node': return runNode(config as NodeAgentConfig);
    case 'client': return runClient(config as ClientAgentConfig);
    case 'lb': return runLbHost(config as LbAgentConfig);
    default: throw new Error(`unknown rehearse agent role ${role}`);
  }
}

async function runNode(config: NodeAgentConfig): Promise<void> {
  const node = new StandInNode({ ...config, onEvent: (event) => emit({ e: 'node', ...event }) });
  await node.start();
  commands(async (command) => {
    switch (command.cmd) {
      case 'shutdown': await node.shutdown(); break;
      case 'start': await node.start(); break;
      case 'halt': await node.halt(); break;
      case 'ready': node.setReady(true); break;
      case 'unready': node.setReady(false); break;
      case 'exit': await node.halt(); process.exit(0);
    }
    emit({ e: 'phase', at: Date.now(), phase: node.phase });
  }, () => process.exit(0));
}

function runClient(config: ClientAgentConfig): void {
  const client = new RehearsalClient({ ...config, emit: (event) => emit(event as unknown as Record<string, unknown>) });
  client.start();
  const stop = () => { void client.stop().then(() => { emit({ e: 'stopped', at: Date.now() }); process.exit(0); }); };
  commands((command) => { if (command.cmd === 'stop' || command.cmd === 'exit') stop(); }, stop);
}

/**
 * An LB host's init: PID 1 of the host's own PID namespace (unshare --pid --fork --mount-proc), so `pidof`,
 * `killall -0` and pid files in keepalived's scripts see this host's processes only, and killing it ends
 * every process of the host. It owns /run (a tmpfs of its own mount namespace), runs the engines, reports
 * their output and exits, and the host's addresses whenever they change.
 */
function runLbHost(config: LbAgentConfig): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run']);
  for (const dir of config.runDirs) execFileSync('mkdir', ['-p', dir]);
  const running = new Map<string, ChildProcess>();
  const start = (name: string) => {
    const engine = config.engines[name];
    if (!engine || running.has(name)) return;
    // Own process group: a crash takes the engine's workers and children down with it.
    // The engines are not agents: they must not see the agent's variables (serve is this program too).
    const env = { ...process.env, ...engine.env };
    delete env[AGENT_ENV];
    delete env[AGENT_CONFIG_ENV];
    const child = spawn(engine.argv[0], engine.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    running.set(name, child);
    const forward = (stream: NodeJS.ReadableStream) => createInterface({ input: stream }).on('line', (line) => {
      // keepalived announces every gratuitous ARP on its own line: noise for the report.
      if (!line.includes('Sending gratuitous ARP')) emit({ e: 'log', engine: name, at: Date.now(), line });
    });
    forward(child.stdout!);
    forward(child.stderr!);
    child.on('error', (error) => emit({ e: 'log', engine: name, at: Date.now(), line: `cannot start: ${error.message}` }));
    child.on('exit', (code, signal) => {
      if (running.get(name) === child) running.delete(name);
      emit({ e: 'exit', engine: name, at: Date.now(), code, signal });
    });
    emit({ e: 'started', engine: name, at: Date.now(), pid: child.pid });
  };
  const crash = (name: string) => {
    const child = running.get(name);
    if (!child?.pid) return;
    running.delete(name);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
  };
  for (const name of Object.keys(config.engines)) start(name);
  let last = '';
  const addresses = () => {
    const list = Object.entries(networkInterfaces()).flatMap(([link, entries]) => (entries ?? []).filter((a) => !a.internal).map((a) => `${a.address}/${link}`)).sort();
    const text = list.join(' ');
    if (text !== last) { last = text; emit({ e: 'addresses', at: Date.now(), list }); }
  };
  addresses();
  setInterval(addresses, 50);
  const exit = () => { for (const name of [...running.keys()]) crash(name); process.exit(0); };
  commands((command) => {
    switch (command.cmd) {
      case 'engine-start': start(command.engine); break;
      case 'engine-crash': crash(command.engine); break;
      case 'engine-reload': {
        const child = running.get(command.engine);
        if (child) child.kill(config.engines[command.engine].reloadSignal);
        break;
      }
      case 'crash-all': {
        // The host goes down: every process, and what it kept in /run (a booting host starts with an empty one).
        for (const name of [...running.keys()]) crash(name);
        execFileSync('/bin/sh', ['-c', 'rm -rf /run/* /run/.[!.]* 2>/dev/null; true']);
        for (const dir of config.runDirs) execFileSync('mkdir', ['-p', dir]);
        break;
      }
      case 'unix': unixCommand(command.id, command.path, command.text); break;
      case 'http': httpCommand(command); break;
      case 'exit': exit();
    }
  }, exit);
}

/** One HTTP request from this host (serve's admin API on its loopback), its status and body as an event. */
function httpCommand(command: Extract<AgentCommand, { cmd: 'http' }>): void {
  const req = httpRequest(command.url, { method: command.method, headers: command.headers, timeout: 3000 }, (res) => {
    let body = '';
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => emit({ e: 'unix', id: command.id, at: Date.now(), answer: `${res.statusCode} ${body}` }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (error) => emit({ e: 'unix', id: command.id, at: Date.now(), answer: '', error: error.message }));
  req.end(command.body);
}

/** One command on a UNIX socket of this host (HAProxy's runtime API), its answer as an event. */
function unixCommand(id: number, path: string, text: string): void {
  let answer = '';
  const socket = connect(path);
  const done = (error?: string) => emit({ e: 'unix', id, at: Date.now(), answer, ...(error ? { error } : {}) });
  socket.setTimeout(3000, () => { socket.destroy(); done('timeout'); });
  socket.on('connect', () => socket.end(`${text}\n`));
  socket.on('data', (chunk) => { answer += chunk.toString(); });
  socket.on('end', () => done());
  socket.on('error', (error) => done(error.message));
}
