// A small line diff for `render --check`: unified-format hunks, enough to see what drifted.

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Line operations turning `before` into `after` (longest common subsequence). */
function operations(before: string[], after: string[]): Op[] {
  const n = before.length;
  const m = after.length;
  if (n * m > 25_000_000) return [...before.map((line) => ({ kind: '-' as const, line })), ...after.map((line) => ({ kind: '+' as const, line }))];
  // lcs[i][j] = length of the LCS of before[i..] and after[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = before[i] === after[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) { ops.push({ kind: ' ', line: before[i] }); i++; j++; } else if (lcs[i + 1][j] >= lcs[i][j + 1]) { ops.push({ kind: '-', line: before[i++] }); } else { ops.push({ kind: '+', line: after[j++] }); }
  }
  while (i < n) ops.push({ kind: '-', line: before[i++] });
  while (j < m) ops.push({ kind: '+', line: after[j++] });
  return ops;
}

/** A unified diff of two texts with `context` lines around each change; '' when they are equal. */
export function unifiedDiff(before: string, after: string, labels: { before: string; after: string }, context = 3): string {
  if (before === after) return '';
  const ops = operations(before.split('\n'), after.split('\n'));
  const out = [`--- ${labels.before}`, `+++ ${labels.after}`];
  let index = 0;
  while (index < ops.length) {
    if (ops[index].kind === ' ') { index++; continue; }
    let start = Math.max(0, index - context);
    let end = index;
    // Extend the hunk while the next change is within 2*context unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end].kind !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next].kind === ' ') next++;
      if (next < ops.length && next - end <= 2 * context) { end = next; continue; }
      end = Math.min(ops.length, end + context);
      break;
    }
    const lineAt = (kind: ' ' | '-' | '+', upTo: number) => ops.slice(0, upTo).filter((o) => o.kind === ' ' || o.kind === kind).length;
    const hunk = ops.slice(start, end);
    const oldCount = hunk.filter((o) => o.kind !== '+').length;
    const newCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${lineAt('-', start) + 1},${oldCount} +${lineAt('+', start) + 1},${newCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    index = end;
    start = end;
  }
  return `${out.join('\n')}\n`;
}
