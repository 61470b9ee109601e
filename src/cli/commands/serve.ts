import { parseArgs } from 'node:util';
import { EXIT } from '../../errors.js';
import { createLogger } from '../../log.js';
import { startDaemon } from '../../runtime/daemon.js';
import { vipFactory } from '../../runtime/vip.js';
import { bgpFactory } from '../../runtime/bgp.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint serve -c FILE [--peer NAME] [--no-watch] [--log-level LEVEL]

Runs the built-in L4 balancer described by the spec: one frontend per listener, health checks,
the status page, JSON API and /metrics on balancer.admin. With a vip: section and --peer (or a local
address that matches a peer), it also holds the floating VIP together with the other peers.

Signals: SIGHUP reloads the spec (as does changing the file, unless --no-watch);
SIGTERM/SIGINT stop accepting, let connections finish for up to the deregistration delay, and exit 0.`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: 'endpoint.yaml' },
      peer: { type: 'string' },
      'no-watch': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const logger = createLogger({ level: values['log-level'] });
  const daemon = await startDaemon({
    specPath: values.config as string,
    logger,
    peer: values.peer,
    ...(values['no-watch'] ? { watch: false } : {}),
    vipFactory: vipFactory(values.peer),
    announcers: [bgpFactory()],
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ event: 'signal', signal }, `${signal} again: closing every connection now`);
        void daemon.destroy().then(() => resolve(EXIT.ok));
        return;
      }
      stopping = true;
      logger.info({ event: 'signal', signal }, `${signal}: shutting down gracefully`);
      void daemon.close().then(() => resolve(EXIT.ok));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void daemon.reload());
  });
};
