// Structured logs: one line per event. JSON (pino) when stderr is not a terminal, a readable line when it is.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const pretty = options.pretty ?? Boolean((destination as { isTTY?: boolean }).isTTY);
  const level = options.level ?? process.env.CLUSTER_ENDPOINT_LOG_LEVEL ?? 'info';
  if (!pretty) return pino({ level, base: { pid: process.pid } }, destination);
  // A terminal gets "12:00:01 INFO  cp-02 kubernetes down: connect ECONNREFUSED, 2/2 failures".
  return pino({ level, base: undefined }, {
    write(line: string) {
      // The message already says what the structured fields say; a terminal shows just the message.
      const { time, level: lvl, msg } = JSON.parse(line) as Record<string, unknown>;
      const label = pino.levels.labels[Number(lvl)]?.toUpperCase() ?? 'INFO';
      destination.write(`${new Date(Number(time)).toISOString().slice(11, 19)} ${label.padEnd(5)} ${String(msg)}\n`);
    },
  } as unknown as NodeJS.WritableStream);
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
