// terraform fmt -check: the one Terraform check that runs offline (init, validate and plan need the
// provider registry). It reports HCL syntax errors and files terraform fmt would rewrite.
import type { RuleFinding } from '../finding.js';
import { engineFinding, run, type Engine } from './engine.js';

const SOURCE = 'https://developer.hashicorp.com/terraform/cli/commands/fmt';

export const terraformEngine: Engine = {
  id: 'terraform/terraform-fmt',
  kind: 'terraform',
  binary: 'terraform',
  name: 'terraform fmt -check',
  async check(_file, copy) {
    // No checkpoint call home, no CLI config warnings: only the check itself.
    const output = await run('terraform', ['fmt', '-check', '-diff', '-no-color', copy], { CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1' });
    if (output.code === 0) return [];
    return parseTerraformFmt(output.stdout, output.stderr);
  },
};

/** `Error: Invalid expression\n\n  on main.tf line 2, ...` → an error at line 2; a diff → info at its first changed line. */
export function parseTerraformFmt(stdout: string, stderr: string): RuleFinding[] {
  const found: RuleFinding[] = [];
  for (const match of stderr.matchAll(/^Error: (.+)\n\n\s+on \S+ line (\d+)[^\n]*\n(?:[^\n]*\n)*?\n([^\n]+)/gm)) {
    found.push(engineFinding('terraform fmt -check', 'error', Number(match[2]), `${match[1]}: ${match[3].trim()}`, false, SOURCE));
  }
  if (found.length > 0) return found;
  const hunk = /^@@ -(\d+)/m.exec(stdout);
  if (hunk) {
    const body = stdout.slice((hunk.index ?? 0)).split('\n').slice(1);
    const offset = body.findIndex((l) => l.startsWith('-') || l.startsWith('+'));
    const line = Number(hunk[1]) + Math.max(0, offset);
    return [{
      severity: 'info', line,
      message: 'terraform fmt -check: the file is not in canonical format (terraform fmt would rewrite it from this line)',
      why: 'formatting does not change what Terraform does, but a CI step running terraform fmt -check fails on it',
      source: SOURCE, fix: 'run terraform fmt on the file',
    }];
  }
  const first = stderr.split('\n').find((l) => l.trim() && !/CLI configuration|terraformrc|^[╷│╵]/.test(l.trim()));
  return first ? [engineFinding('terraform fmt -check', 'error', 1, first.trim(), false, SOURCE)] : [];
}
