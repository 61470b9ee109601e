import { KernelDataPlane } from '../../dataplane/kernel/index.js';
import { EXIT } from '../../errors.js';
import { createLogger, flushRepeats } from '../../log.js';
import { blockedReads, dieBySignal } from '../../read-file.js';
import { startDaemon } from '../../runtime/daemon.js';
import { vipFactory } from '../../runtime/vip.js';
import { bgpFactory } from '../../runtime/bgp.js';
import type { Io } from '../command.js';

export interface ServeOptions {
  config: string;
  /** Which vip.peers or bgp.hosts entry this host is; default the one whose address is local. */
  peer?: string;
  /** false: do not reload when the file changes; undefined: the spec's balancer.watch. */
  watch?: false;
  logLevel?: string;
  /** Remove the nftables table (and its conntrack flows) a kernel-mode serve left behind, then exit. */
  cleanup?: boolean;
}

/**
 * Runs the balancer (and the VIP) until SIGTERM/SIGINT; SIGHUP reloads; SIGUSR2 exits for a restart (in kernel
 * mode the table stays for the next serve to adopt).
 */
export async function serve(options: ServeOptions, io: Io): Promise<number> {
  if (options.cleanup) {
    const { table, flows } = await KernelDataPlane.cleanup();
    io.stdout.write(table ? `removed the nftables table inet cluster_endpoint and ${flows} conntrack flow(s)\n` : `no nftables table inet cluster_endpoint here${flows > 0 ? `; removed ${flows} conntrack flow(s)` : ''}\n`);
    return EXIT.ok;
  }
  const logger = createLogger({ level: options.logLevel });
  const daemon = await startDaemon({
    specPath: options.config,
    logger,
    peer: options.peer,
    ...(options.watch === false ? { watch: false } : {}),
    vipFactory: vipFactory(options.peer),
    announcers: [bgpFactory(options.peer)],
  });

  return new Promise<number>((resolveStop) => {
    // Repeats still being counted (log.ts) are written before the process goes.
    const resolve = (code: number) => { flushRepeats(logger); resolveStop(code); };
    let stopping = false;
    // A read of the spec given up on a hung file system still holds a thread, and a normal exit would wait for it.
    const done = (signal: 'SIGTERM' | 'SIGINT') => {
      if (blockedReads() > 0) {
        logger.warn({ event: 'stopped', blockedReads: blockedReads() }, `a read of ${options.config} is still stuck in the kernel: exiting by ${signal}`);
        flushRepeats(logger);
        dieBySignal(signal);
      }
      resolve(EXIT.ok);
    };
    const stop = (signal: 'SIGTERM' | 'SIGINT') => {
      if (stopping) {
        logger.warn({ event: 'signal', signal }, `${signal} again: closing every connection now`);
        void daemon.destroy().then(() => done(signal));
        return;
      }
      stopping = true;
      logger.info({ event: 'signal', signal }, `${signal}: shutting down gracefully`);
      void daemon.close().then(() => done(signal));
    };
    process.on('SIGUSR2', () => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'signal', signal: 'SIGUSR2' }, 'SIGUSR2: exiting for a restart');
      void daemon.handover().then(() => done('SIGTERM'));
    });
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info({ event: 'signal', signal: 'SIGHUP' }, `SIGHUP: reloading ${options.config}`);
      void daemon.reload('signal');
    });
  });
}
