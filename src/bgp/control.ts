// BIRD's control socket, spoken directly: every reply line starts with a four-digit code (0xxx done,
// 1xxx table data, 2xxx table heading, 8xxx/9xxx errors) and a '-' when more lines follow; a line starting
// with a space continues the previous code. That code is BIRD's machine interface (birdc only prints it), so
// state is read by code and field name, never by column positions of the human table.
import { connect, type Socket } from 'node:net';

export interface ReplyLine {
  code: number;
  text: string;
}

export interface BirdReply {
  /** The code of the last line: 0xxx success, 8xxx runtime error, 9xxx parse error. */
  code: number;
  lines: ReplyLine[];
}

export class BirdControlError extends Error {}

const CODED = /^(\d{4})([ -])(.*)$/;

/** Splits a raw reply into coded lines; returns undefined until the final line (code followed by a space) is in. */
export function parseReply(raw: string): BirdReply | undefined {
  const lines: ReplyLine[] = [];
  let code = -1;
  for (const line of raw.split('\n')) {
    if (line === '') continue;
    const match = CODED.exec(line);
    if (match) {
      code = Number(match[1]);
      lines.push({ code, text: match[3] });
      if (match[2] === ' ') return { code, lines };
    } else if (line.startsWith(' ') && lines.length > 0) {
      lines.push({ code: lines[lines.length - 1].code, text: line.slice(1) });
    }
  }
  return undefined;
}

/** One command per connection: BIRD greets, answers, and the socket is closed. Short-lived by design. */
export function birdCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<BirdReply> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(socketPath);
    let buffer = '';
    let greeted = false;
    const timer = setTimeout(() => fail(new BirdControlError(`no answer to "${command}" within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => { clearTimeout(timer); socket.destroy(); reject(error); };
    socket.setEncoding('utf8');
    socket.on('error', (error: NodeJS.ErrnoException) => fail(new BirdControlError(`${socketPath}: ${error.code ?? error.message}`)));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (!greeted) {
        const end = buffer.indexOf('\n');
        if (end < 0) return;
        greeted = true;
        buffer = buffer.slice(end + 1);
        socket.write(`${command}\n`);
      }
      const reply = parseReply(buffer);
      if (!reply) return;
      clearTimeout(timer);
      socket.end();
      resolve(reply);
    });
    socket.on('close', () => fail(new BirdControlError(`${socketPath} closed before answering "${command}"`)));
  });
}
