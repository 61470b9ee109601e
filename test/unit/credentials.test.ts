// Which file serve reads for a path the spec names: systemd's copy in $CREDENTIALS_DIRECTORY when it has one of that
// file's name, the path itself otherwise.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { credentialName, credentialPath } from '../../src/credentials.js';

test('credentialPath: the credential of the file\'s name when loaded, else the path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-creds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'client.key'), 'key');
  assert.equal(credentialName('/etc/cluster-endpoint/tls/client.key'), 'client.key');
  assert.equal(await credentialPath('/etc/cluster-endpoint/tls/client.key', { CREDENTIALS_DIRECTORY: dir }), join(dir, 'client.key'));
  assert.equal(await credentialPath('/etc/cluster-endpoint/tls/client.crt', { CREDENTIALS_DIRECTORY: dir }), '/etc/cluster-endpoint/tls/client.crt', 'not loaded: the path');
  assert.equal(await credentialPath('/etc/cluster-endpoint/tls/client.key', {}), '/etc/cluster-endpoint/tls/client.key', 'outside systemd: the path');
  assert.equal(await credentialPath('/x/client.key', { CREDENTIALS_DIRECTORY: '' }), '/x/client.key');
});
