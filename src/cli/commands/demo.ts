import { startDemo } from '../../demo/demo.js';
import { runSession } from '../../demo/session.js';
import { createLogger } from '../../log.js';
import type { Io } from '../command.js';

export interface DemoOptions {
  dir?: string;
  tour?: boolean;
  durationMs?: number;
  /** false: do not read commands from stdin. */
  input?: boolean;
  freePorts?: boolean;
  singleAddress?: boolean;
  verbose?: boolean;
}

export async function demo(options: DemoOptions, io: Io): Promise<number> {
  // Read by a person, next to the demo's own lines: readable lines, never JSON, whatever stderr is.
  const logger = createLogger({ level: options.verbose ? 'info' : 'warn', destination: io.stderr, pretty: true });
  const running = await startDemo({ dir: options.dir, freePorts: options.freePorts, singleAddress: options.singleAddress, logger });
  const input = options.input === false ? undefined : process.stdin;
  try {
    return await runSession(running, { out: io.stdout, input, durationMs: options.durationMs, tour: options.tour });
  } finally {
    await running.close();
    // stdin would keep the process alive after the last command.
    if (input) process.stdin.pause();
  }
}
