import { parseArgs } from 'node:util';
import { startDemo } from '../../demo/demo.js';
import { runSession } from '../../demo/session.js';
import { EXIT, UserError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { parseDuration } from '../../spec/duration.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint demo [--dir DIR] [--tour] [--duration 30s] [--no-input] [--free-ports] [--single-address] [--verbose]

Runs the built-in balancer in front of three simulated control-plane nodes (127.0.0.31-33, or distinct
ports on 127.0.0.1 where those addresses do not exist), in one process and without root. The nodes answer
/readyz, /livez, /healthz and /version over TLS like kube-apiserver, so real kubectl works through the
balancer. Type "stop cp-02" and watch the balancer mark it down; "start cp-02" brings it back.

options:
  --dir DIR        write endpoint.yaml, ca.crt and kubeconfig here (kept); default a temporary directory
                   that is removed when the demo stops
  --tour           stop and restart cp-01 by itself and show requests still being answered
  --duration D     stop after D (e.g. 30s, 5m)
  --no-input       do not read commands from stdin (runs until Ctrl-C, SIGTERM, --duration or the tour ends)
  --free-ports     use free ports instead of 6443, 50000 and 8404
  --single-address put every node on 127.0.0.1 with ports of its own (controlPlane[].ports), as the demo
                   does by itself where 127.0.0.31-33 cannot be bound
  --verbose        also print the balancer's own log (stderr)

Commands are read from stdin. At a terminal Ctrl-D stops the demo; in the background or from a pipe the end
of input does not: the demo runs until quit, Ctrl-C, SIGTERM or --duration.`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      tour: { type: 'boolean' },
      duration: { type: 'string' },
      'no-input': { type: 'boolean' },
      'free-ports': { type: 'boolean' },
      'single-address': { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    durationMs = parseDuration(values.duration);
    if (durationMs === undefined || durationMs === 0) {
      throw new UserError('USAGE', `--duration "${values.duration}" is not a duration`, { hint: 'write a number with a unit, e.g. --duration 30s or 5m', exitCode: EXIT.invalid });
    }
  }
  const logger = createLogger({ level: values.verbose ? 'info' : 'warn', destination: io.stderr });
  const demo = await startDemo({ dir: values.dir, freePorts: values['free-ports'], singleAddress: values['single-address'], logger });
  const input = values['no-input'] ? undefined : process.stdin;
  try {
    return await runSession(demo, { out: io.stdout, input, durationMs, tour: values.tour });
  } finally {
    await demo.close();
    // stdin would keep the process alive after the last command.
    if (input) process.stdin.pause();
  }
};
