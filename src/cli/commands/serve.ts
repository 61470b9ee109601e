import { KernelDataPlane } from '../../dataplane/kernel/index.js';
import { EXIT, UserError } from '../../errors.js';
import { describeOwner } from '../../host-lock.js';
import { loadSpecFile, SpecInvalidError } from '../../spec/load.js';
import type { Spec } from '../../spec/types.js';
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
  /** Remove the nftables table (and its conntrack flows) a kernel-mode serve of this spec left behind, then exit. */
  cleanup?: boolean;
}

/**
 * Runs the balancer (and the VIP) until SIGTERM/SIGINT; SIGHUP reloads; SIGUSR2 exits for a restart (in kernel
 * mode the table stays for the next serve to adopt).
 */
export async function serve(options: ServeOptions, io: Io): Promise<number> {
  if (options.cleanup) {
    const { table, removed, flows } = await KernelDataPlane.cleanup(await cleanupSpec(options.config), options.config);
    const names = removed.map((name) => `inet ${name}`).join(', ');
    io.stdout.write(removed.length > 0 ? `removed the nftables table${removed.length > 1 ? 's' : ''} ${names} and ${flows} conntrack flow(s)\n` : `no nftables table inet ${table} here${flows > 0 ? `; removed ${flows} conntrack flow(s)` : ''}\n`);
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

/**
 * The spec whose table --cleanup removes (each cluster's serve has its own). When it cannot be read (an
 * installation removed with its spec), the tables of ours on this host are listed, with who runs them.
 */
async function cleanupSpec(path: string): Promise<Spec> {
  const result = await loadSpecFile(path);
  if (result.spec) return result.spec;
  if (!result.problems.some((p) => p.code === 'SPEC_FILE')) throw new SpecInvalidError(path, result.problems);
  const found = (await KernelDataPlane.tables().catch(() => [])).map(({ table, owner }) => `inet ${table} (${owner ? `run by ${describeOwner(owner)}` : 'no serve runs it'})`);
  throw new UserError('KERNEL', `serve --cleanup removes the table of the spec given with -c, and ${result.problems[0].message}`, {
    hint: `${found.length > 0 ? `tables of cluster-endpoint here: ${found.join(', ')}` : 'no table of cluster-endpoint here'}; pass the spec of the serve that left one with -c, or remove one by hand with nft delete table inet <name> (that cuts the flows it carried)`,
    exitCode: 2,
  });
}
