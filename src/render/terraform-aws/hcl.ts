// Just enough HCL writing for the files we render: quoted strings and `terraform fmt` alignment.

/** An HCL string literal (JSON escaping is valid HCL; `${` and `%{` are escaped so they stay text). */
export function hclString(value: string): string {
  return JSON.stringify(value).replace(/\$\{/g, '$$${').replace(/%\{/g, '%%{');
}

export function hclList(values: readonly string[]): string {
  return `[${values.map(hclString).join(', ')}]`;
}

const ATTRIBUTE = /^(\s*)([A-Za-z_][A-Za-z0-9_-]*|"[^"]*")\s*=\s*(.*)$/;

/**
 * Aligns the `=` of consecutive single-line attributes at the same indentation, as `terraform fmt`
 * does. A line that opens a multi-line value, a block, a blank line or a comment ends a run.
 */
export function alignAttributes(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let run: Array<{ indent: string; key: string; value: string }> = [];
  const flush = () => {
    const width = Math.max(0, ...run.map((r) => r.key.length));
    for (const r of run) out.push(`${r.indent}${r.key.padEnd(width)} = ${r.value}`);
    run = [];
  };
  for (const line of lines) {
    const match = ATTRIBUTE.exec(line);
    const opensMultiLine = match !== null && /[[{(]$/.test(match[3]);
    if (match && !opensMultiLine) {
      if (run.length > 0 && run[0].indent !== match[1]) flush();
      run.push({ indent: match[1], key: match[2], value: match[3] });
      continue;
    }
    flush();
    out.push(match ? `${match[1]}${match[2]} = ${match[3]}` : line);
  }
  flush();
  return out.join('\n');
}
