// The demo's conversation: the banner, the state changes of the balancer as they happen (polled from
// daemon.snapshot()), and the commands read from stdin.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors.js';
import type { Demo } from './demo.js';
import { countUp, describeChanges, formatStatus } from './report.js';
import { runTour } from './tour.js';
import { joinHostPort } from '../spec/address.js';

export interface SessionOptions {
  out: Writable;
  /** Commands come from here; undefined = no input (--no-input). */
  input?: Readable;
  /** Stop after this long. */
  durationMs?: number;
  tour?: boolean;
  /** Poll period of the balancer snapshot. */
  pollMs?: number;
}

export const MENU = `commands:
  stop NODE...     stop a simulated node (closes its listeners and connections)
  start NODE...    start it again
  drain NODE       balancer: no new connections to NODE (undrain NODE to return it)
  status           the balancer's view of every server
  help             this list
  quit             stop the demo (also Ctrl-C)
nodes: cp-01, cp-02, cp-03`;

export function banner(demo: Demo): string {
  const { layout } = demo;
  const kube = `kubectl --kubeconfig ${demo.kubeconfigPath}`;
  const nodeLines = demo.nodes.map((n) => `    ${n.name}  kubernetes ${n.kubernetesAddress}  talos ${n.talosAddress}`);
  return [
    'cluster-endpoint demo: the built-in balancer in front of three simulated control-plane nodes',
    '',
    `  status page:  ${demo.adminUrl}/`,
    `  kubernetes:   ${demo.kubernetesUrl}  (balancer listener "kubernetes", https /readyz checks every 1s)`,
    `  talos:        ${joinHostPort(layout.endpoint, layout.talosPort)}  (balancer listener "talos", tls checks every 1s)`,
    `  spec:         ${demo.specPath}`,
    `  kubeconfig:   ${demo.kubeconfigPath}`,
    `  ca:           ${demo.caPath}`,
    '  nodes:',
    ...nodeLines,
    ...layout.notes.map((note) => `  note: ${note}`),
    '',
    'try, in another terminal:',
    `  ${kube} get --raw /readyz`,
    `  ${kube} version`,
    `  curl -si --cacert ${demo.caPath} ${demo.kubernetesUrl}/version   (see the X-Demo-Node header)`,
    '',
  ].join('\n');
}

/** Runs until quit, a signal, the duration, the end of input at a terminal, or (with --tour and no input) the end of the tour. */
export async function runSession(demo: Demo, options: SessionOptions): Promise<number> {
  const say = (line: string) => options.out.write(`${line}\n`);
  const stamp = () => new Date().toISOString().slice(11, 19);
  say(banner(demo));
  say(MENU);
  say('');

  let finish!: (reason: string, code?: number) => void;
  let ending = false;
  const finished = new Promise<{ reason: string; code: number }>((resolve) => { finish = (reason, code = 0) => { ending = true; resolve({ reason, code }); }; });
  const tourAbort = new AbortController();
  const cleanups: Array<() => void> = [() => tourAbort.abort()];

  // State changes, as the balancer sees them.
  let previous = demo.daemon.snapshot();
  let announcedReady = false;
  const poll = setInterval(() => {
    const next = demo.daemon.snapshot();
    for (const line of describeChanges(previous, next)) say(`${stamp()} ${line}`);
    previous = next;
    const { up, total } = countUp(next, 'kubernetes');
    if (!announcedReady && up === total && total > 0) {
      announcedReady = true;
      say(`${stamp()} ready: ${up}/${total} kubernetes servers up — try the kubectl commands above`);
    }
  }, options.pollMs ?? 250);
  cleanups.push(() => clearInterval(poll));

  const onSignal = (signal: NodeJS.Signals) => finish(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  cleanups.push(() => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); });

  if (options.durationMs !== undefined) {
    const timer = setTimeout(() => finish(`--duration ${options.durationMs}ms passed`), options.durationMs);
    cleanups.push(() => clearTimeout(timer));
  }

  if (options.input) {
    const lines = createInterface({ input: options.input, terminal: false });
    let queue = Promise.resolve();
    lines.on('line', (line) => {
      // One command at a time, in order: "stop cp-01" finishes before "status" runs.
      queue = queue.then(async () => {
        try {
          if ((await runCommand(demo, line, say)) === 'quit') finish('quit');
        } catch (error) {
          say(error instanceof UserError ? `error: ${error.message}${error.hint ? ` (${error.hint})` : ''}` : `error: ${(error as Error).message}`);
        }
      });
    });
    // Ctrl-D at a terminal means "done"; a demo started in the background or from a pipe keeps running
    // after its input ends, until quit, a signal or --duration.
    const atTerminal = (options.input as { isTTY?: boolean }).isTTY === true;
    lines.on('close', () => {
      void queue.then(() => {
        if (atTerminal) finish('end of input');
        else if (!ending) say(`${stamp()} end of input: the demo keeps running until quit, Ctrl-C, SIGTERM or --duration`);
      });
    });
    cleanups.push(() => lines.close());
  }

  if (options.tour) {
    const endsDemo = !options.input && options.durationMs === undefined;
    runTour(demo, (line) => say(`${stamp()} tour: ${line}`), tourAbort.signal).then(
      () => { if (endsDemo) finish('tour done'); },
      (error: unknown) => {
        if (tourAbort.signal.aborted) return;
        say(`${stamp()} tour: failed: ${(error as Error).message}`);
        if (endsDemo) finish('tour failed', 1);
      },
    );
  }

  const { reason, code } = await finished;
  for (const cleanup of cleanups) cleanup();
  say(`${stamp()} stopping (${reason})`);
  await demo.close();
  say(`${stamp()} stopped`);
  return code;
}

/** Runs one command line; returns 'quit' when the demo should end. */
export async function runCommand(demo: Demo, line: string, say: (line: string) => void): Promise<'quit' | undefined> {
  const [verb, ...args] = line.trim().split(/\s+/).filter(Boolean);
  switch (verb) {
    case undefined:
      return undefined;
    case 'help':
    case '?':
      say(MENU);
      return undefined;
    case 'quit':
    case 'exit':
    case 'q':
      return 'quit';
    case 'status':
      say(formatStatus(demo.daemon.snapshot(), (name) => demo.findNode(name)?.running));
      return undefined;
    case 'stop':
    case 'start': {
      for (const node of nodesNamed(demo, verb, args)) {
        if (verb === 'stop') {
          if (!node.running) { say(`${node.name} is already stopped`); continue; }
          await node.stop();
          say(`${node.name} stopped: its listeners and connections are closed; watch the balancer mark it down`);
        } else {
          if (node.running) { say(`${node.name} is already running`); continue; }
          await node.start();
          say(`${node.name} started: watch the balancer mark it up after 2 good checks`);
        }
      }
      return undefined;
    }
    case 'drain':
    case 'undrain': {
      for (const node of nodesNamed(demo, verb, args)) {
        const changed = demo.daemon.setAdminState({ server: node.name }, verb === 'drain' ? 'drain' : 'ready');
        say(`${node.name}: ${verb === 'drain' ? 'draining' : 'ready'} on ${changed} listener(s)`);
      }
      return undefined;
    }
    default:
      throw new UserError('USAGE', `unknown command "${verb}"`, { hint: 'type help for the list' });
  }
}

function nodesNamed(demo: Demo, verb: string, names: string[]) {
  if (names.length === 0) throw new UserError('USAGE', `${verb} needs a node name`, { hint: `e.g. ${verb} cp-02` });
  return names.map((name) => {
    const node = demo.findNode(name);
    if (!node) throw new UserError('USAGE', `no node "${name}"`, { hint: `nodes: ${demo.nodes.map((n) => n.name).join(', ')}` });
    return node;
  });
}
