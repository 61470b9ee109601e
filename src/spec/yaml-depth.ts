// How deeply a YAML (or JSON) text nests, found before any parser sees it. The YAML library, the schema
// validator and our rules all recurse per level: a 6 KiB document nested 900 deep exhausts the stack (or
// aborts V8 outright), and a 1 MiB one costs a parser hundreds of megabytes. This scan is one pass over the
// characters with no allocation beyond a stack of at most `limit` numbers, so a document can be refused for
// its depth at the cost of reading it once.
//
// It follows YAML's structure as far as depth needs it: block collections by their indentation (and compact
// `- - x` entries), flow collections by their brackets, and it skips what cannot nest: quoted scalars,
// comments and block scalars (`|`, `>`). It may count one level more than a parser would on a line (a scalar
// after `- `), never fewer.

/** Where the text first nests deeper than the limit. */
export interface DepthExcess {
  /** 1-based line and column of the opening that went past the limit. */
  line: number;
  column: number;
}

/** The first place where `text` nests more than `limit` levels, or undefined when it never does. */
export function deeperThan(text: string, limit: number): DepthExcess | undefined {
  const indents: number[] = [];
  let flow = 0;
  let quote: '"' | "'" | undefined;
  /** While >= 0, lines indented more than this (and blank lines) are the content of a block scalar. */
  let blockScalar = -1;
  let line = 0;
  for (let start = 0; start <= text.length; line++) {
    const newline = text.indexOf('\n', start);
    const next = newline === -1 ? text.length : newline;
    const end = next > start && text.charCodeAt(next - 1) === 13 ? next - 1 : next;
    let at = start;
    while (at < end && text.charCodeAt(at) === 32) at++;
    const column = at - start;
    const excess = (offset: number): DepthExcess => ({ line: line + 1, column: offset - start + 1 });
    let from = at;
    if (quote === undefined && flow === 0) {
      if (blockScalar >= 0) {
        if (at === end || column > blockScalar) { start = next + 1; continue; }
        blockScalar = -1;
      }
      if (at === end || text[at] === '#' || text[at] === '%') { start = next + 1; continue; }
      if (column === 0 && (text.startsWith('---', at) || text.startsWith('...', at)) && (at + 3 === end || text[at + 3] === ' ' || text[at + 3] === '\t')) {
        indents.length = 0; // a new document
        from = at + 3;
      } else {
        while (indents.length > 0 && indents[indents.length - 1] >= column) indents.pop();
        indents.push(column);
        if (indents.length > limit) return excess(at);
        // Compact nesting on one line: "- - x", "- ? x", "? - x".
        while ((text[from] === '-' || text[from] === '?') && (from + 1 === end || text[from + 1] === ' ')) {
          from += 1;
          while (from < end && text.charCodeAt(from) === 32) from++;
          if (from === end || text[from] === '#') break;
          indents.push(from - start);
          if (indents.length > limit) return excess(from);
        }
      }
    }
    // The previous non-blank character on this line (-1: none yet), where its word began, and whether blanks followed it.
    let last = -1;
    let word = last;
    let blank = false;
    /** Where the last quoted scalar or flow collection ended (a JSON-like node). */
    let jsonEnd = -1;
    for (let p = from; p < end; p++) {
      const c = text[p];
      if (quote === '"') {
        if (c === '\\') p++;
        else if (c === '"') { quote = undefined; last = p; jsonEnd = p; blank = false; }
        continue;
      }
      if (quote === "'") {
        if (c === "'") {
          if (text[p + 1] === "'") p++;
          else { quote = undefined; last = p; jsonEnd = p; blank = false; }
        }
        continue;
      }
      if (c === ' ' || c === '\t') { blank = true; continue; }
      if (c === '#' && (blank || last === -1)) break;
      // Where a scalar or a collection may begin: first on the line, after "key: ", after a flow indicator, after a tag or anchor.
      const before = last >= 0 ? text[last] : '';
      // In flow, ":" right before a value is an indicator only just after a JSON-like key ("k":, ]:, }:); after
      // anything else it is part of a plain scalar (`:"!` is one word), and a quote there opens nothing.
      const opening = last === -1 || (flow > 0 && (before === '[' || before === '{' || before === ',' || (before === ':' && jsonEnd === last - 1)))
        || (blank && before === ':') || (blank && (text[word] === '!' || text[word] === '&'));
      if (blank || last === -1) word = p;
      last = p;
      blank = false;
      if ((c === '"' || c === "'") && opening) { quote = c; continue; }
      if ((c === '[' || c === '{') && (flow > 0 || opening)) {
        flow++;
        if (indents.length + flow > limit) return excess(p);
        continue;
      }
      if ((c === ']' || c === '}') && flow > 0) { flow--; jsonEnd = p; continue; }
      if ((c === '|' || c === '>') && flow === 0 && opening && isBlockScalarHeader(text, p + 1, end)) {
        blockScalar = indents.length > 0 ? indents[indents.length - 1] : 0;
        break;
      }
    }
    if (newline === -1) break;
    start = next + 1;
  }
  return undefined;
}

/** After `|` or `>`: indentation and chomping indicators, then only spaces or a comment. */
function isBlockScalarHeader(text: string, from: number, end: number): boolean {
  let p = from;
  while (p < end && /[0-9+-]/.test(text[p])) p++;
  while (p < end && (text[p] === ' ' || text[p] === '\t')) p++;
  return p === end || text[p] === '#';
}
