// Errors that mean this process ran out of something (descriptors, socket buffers, memory). They say
// nothing about the server a connect or a check was aimed at, so they never count against it.

export const LOCAL_EXHAUSTION_CODES = ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM'] as const;

const PATTERN = new RegExp(`\\b(${LOCAL_EXHAUSTION_CODES.join('|')})\\b`);

/** The exhaustion code in an error code or a reason such as "connect EMFILE"; undefined for anything else. */
export function localExhaustion(codeOrReason: string): string | undefined {
  return PATTERN.exec(codeOrReason)?.[1];
}

/** Where the proxy and the checks report exhaustion: counted and logged as ours. */
export interface ExhaustionSink {
  report(code: string, where: string): void;
}

export const IGNORE_EXHAUSTION: ExhaustionSink = { report() {} };
