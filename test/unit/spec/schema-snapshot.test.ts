import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { jsonSchema } from '../../../src/spec/schema.js';
import { ROOT } from '../../helpers/cli.js';

test('schema/endpoint.schema.json is generated from the code (run: cluster-endpoint schema -o schema/endpoint.schema.json)', async () => {
  const onDisk = JSON.parse(await readFile(`${ROOT}schema/endpoint.schema.json`, 'utf8'));
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(jsonSchema())));
});
