// A directory kept as kubelet keeps a ConfigMap (or Secret) volume (pkg/volume/util/atomic_writer.go): the data
// lives in a timestamped directory, `..data` is a link to it, and each key is a link through `..data`:
//   endpoint.yaml -> ..data/endpoint.yaml,  ..data -> ..2026_12_07_10_00_00.123456789
// An update writes a new timestamped directory, points a new link `..data_tmp` at it, renames `..data_tmp`
// onto `..data` (atomic), then removes the old directory. The file endpoint.yaml itself never changes.
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let sequence = 0;

/** kubelet's name for a data directory: "..", the UTC time as 2006_01_02_15_04_05, ".", and a unique suffix. */
function timestampDir(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}`;
  return `..${stamp}.${String(process.pid)}${String(sequence++).padStart(4, '0')}`;
}

/** Projects `files` (key → content) into `dir` the way kubelet does, first time or update. */
export async function projectConfigMap(dir: string, files: Record<string, string>): Promise<void> {
  const data = join(dir, '..data');
  const previous = await readlink(data).catch(() => undefined);
  const next = timestampDir();
  await mkdir(join(dir, next), { mode: 0o755 });
  for (const [key, content] of Object.entries(files)) await writeFile(join(dir, next, key), content, { mode: 0o644 });
  for (const key of Object.keys(files)) {
    if (await readlink(join(dir, key)).catch(() => undefined) === undefined) await symlink(join('..data', key), join(dir, key));
  }
  await symlink(next, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), data);
  if (previous !== undefined) await rm(join(dir, previous), { recursive: true, force: true });
}
