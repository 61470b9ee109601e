import { writeFile } from 'node:fs/promises';
import { EXIT } from '../../errors.js';
import { specReferenceTable } from '../../spec/reference.js';
import { jsonSchema } from '../../spec/schema.js';
import type { Io } from '../command.js';

export interface SchemaOptions { output?: string; markdown?: boolean }

export async function schema(options: SchemaOptions, io: Io): Promise<number> {
  const text = options.markdown ? `${specReferenceTable()}\n` : `${JSON.stringify(jsonSchema(), null, 2)}\n`;
  if (options.output) await writeFile(options.output, text);
  else io.stdout.write(text);
  return EXIT.ok;
}
