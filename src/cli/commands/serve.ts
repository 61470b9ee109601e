import { EXIT } from '../../errors.js';
import { createLogger } from '../../log.js';
import { startDaemon } from '../../runtime/daemon.js';
import { vipFactory } from '../../runtime/vip.js';
import type { Command, Io } from '../command.js';
import { runProgram } from '../program.js';

export interface ServeOptions {
  config: string;
  /** Which vip.peers entry this host is; default the peer whose address is local. */
  peer?: string;
  /** false: do not reload when the file changes; undefined: the spec's balancer.watch. */
  watch?: false;
  logLevel?: string;
}

/** Runs the balancer (and the VIP) until SIGTERM/SIGINT; SIGHUP reloads. */
export async function serve(options: ServeOptions, _io: Io): Promise<number> {
  const logger = createLogger({ level: options.logLevel });
  const daemon = await startDaemon({
    specPath: options.config,
    logger,
    peer: options.peer,
    ...(options.watch === false ? { watch: false } : {}),
    vipFactory: vipFactory(options.peer),
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
}

export const command: Command = (argv, io) => runProgram(['serve', ...argv], io);
