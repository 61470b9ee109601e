import { writeFile } from 'node:fs/promises';
import { EXIT } from '../../errors.js';
import { specReferenceTable } from '../../spec/reference.js';
import { jsonSchema } from '../../spec/schema.js';
import type { Command, Io } from '../command.js';
import { runProgram } from '../program.js';

export interface SchemaOptions { output?: string; markdown?: boolean }

export async function schema(options: SchemaOptions, io: Io): Promise<number> {
  const text = options.markdown ? `${specReferenceTable()}\n` : `${JSON.stringify(jsonSchema(), null, 2)}\n`;
  if (options.output) await writeFile(options.output, text);
  else io.stdout.write(text);
  return EXIT.ok;
}

export const command: Command = (argv, io) => runProgram(['schema', ...argv], io);
