// The engines' own checks (haproxy -c, keepalived -t, terraform fmt -check), run on a copy of each file so
// one doctor command gives the whole verdict. I/O lives here; the parsing of their output is pure.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { findOnPath } from '../../path.js';
import type { FileKind, ParsedFile } from '../context.js';
import type { Finding, RuleFinding, Severity } from '../finding.js';

/** One engine: which files it checks, what it runs, and how its output becomes findings. */
export interface Engine {
  /** The id its findings carry, e.g. `haproxy/haproxy-c`. */
  id: string;
  kind: FileKind;
  /** The binary that must be on the PATH. */
  binary: string;
  /** How the docs and messages name the check: "haproxy -c". */
  name: string;
  /** Why it cannot run here although the binary exists (keepalived needs root for a scratch namespace). */
  unavailable?(): string | undefined;
  /** Checks one file, copied to `copy` (same base name, in a scratch directory). */
  check(file: ParsedFile, copy: string): Promise<RuleFinding[]>;
}

export interface EngineRun { engine: string; files: number; skipped?: string }

/** The output of a command that may fail: exit code, stdout, stderr; never throws for a non-zero exit. */
export interface Output { code: number | null; stdout: string; stderr: string }

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Output> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr: error && code === null ? `${stderr}${error.message}` : stderr });
    });
  });
}

/** Runs every engine whose binary is present on the files of its kind; says which ran and which were skipped. */
export async function runEngines(engines: readonly Engine[], files: readonly ParsedFile[]): Promise<{ findings: Finding[]; runs: EngineRun[] }> {
  const findings: Finding[] = [];
  const runs: EngineRun[] = [];
  for (const engine of engines) {
    const mine = files.filter((f) => f.kind === engine.kind);
    if (mine.length === 0) continue;
    const skipped = findOnPath(engine.binary) === undefined ? `${engine.binary} is not on the PATH` : engine.unavailable?.();
    if (skipped) {
      runs.push({ engine: engine.name, files: 0, skipped });
      continue;
    }
    for (const file of mine) {
      const dir = await mkdtemp(join(tmpdir(), 'cluster-endpoint-doctor-'));
      try {
        const copy = join(dir, basename(file.path));
        await writeFile(copy, file.text);
        for (const found of await engine.check(file, copy)) {
          findings.push({ ...found, rule: found.rule ?? engine.id, file: found.file ?? file.path, message: found.message.split(copy).join(file.path) });
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    runs.push({ engine: engine.name, files: mine.length });
  }
  return { findings, runs };
}

/** A finding from an engine's message: severity from the engine, `environment` ones as info with that said. */
export function engineFinding(engine: string, severity: Severity, line: number, message: string, environment: boolean, source: string): RuleFinding {
  if (environment) {
    return {
      severity: 'info', line, message: `${engine} here: ${message}`,
      why: `this depends on the machine doctor runs on (a file, user, script or name that exists only where the config is deployed), not on the file itself; ${engine} may not have checked what depends on it`,
      source, fix: `run ${engine} on the host the file is deployed to`,
    };
  }
  return {
    severity, line, message: `${engine}: ${message}`,
    why: severity === 'error' ? `${engine} rejects the file: the engine will not start (or reload) with it` : `${engine} accepts the file but warns`,
    source, fix: 'correct the line as the message says',
  };
}
