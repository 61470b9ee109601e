// The diff `render --check` prints for a drifted file: a unified diff from jsdiff (the `diff` package),
// without the "====" banner jsdiff puts before a patch, so it reads like `diff -u`.
import { structuredPatch } from 'diff';

/** A unified diff of two texts with `context` lines around each change; '' when they are equal. */
export function unifiedDiff(before: string, after: string, labels: { before: string; after: string }, context = 3): string {
  if (before === after) return '';
  const patch = structuredPatch(labels.before, labels.after, before, after, undefined, undefined, { context });
  const lines = [`--- ${labels.before}`, `+++ ${labels.after}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`, ...hunk.lines);
  }
  return `${lines.join('\n')}\n`;
}
