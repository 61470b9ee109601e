// A small keepalived.conf reader: nested blocks of statements, each with its line number.
// `#` and `!` start comments; quotes group words ("pidof haproxy" is one argument).

export interface KeepalivedNode {
  keyword: string;
  args: string[];
  line: number;
  /** Text after `#`/`!` on the statement's line, trimmed (e.g. "90 on secondary"). */
  comment?: string;
  children: KeepalivedNode[];
}

export interface KeepalivedConfig {
  nodes: KeepalivedNode[];
}

export function parseKeepalived(text: string): KeepalivedConfig {
  const root: KeepalivedNode[] = [];
  const stack: KeepalivedNode[][] = [root];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const { tokens, comment } = tokenize(raw);
    let statement: KeepalivedNode | undefined;
    for (const token of tokens) {
      const siblings = stack[stack.length - 1];
      if (token === '{') {
        // `{` opens the block of the statement before it (on this line or the line above).
        const parent = statement ?? siblings[siblings.length - 1];
        if (parent) stack.push(parent.children);
        else stack.push([]);
        statement = undefined;
      } else if (token === '}') {
        if (stack.length > 1) stack.pop();
        statement = undefined;
      } else if (statement) {
        statement.args.push(token);
      } else {
        statement = { keyword: token, args: [], line, children: [], ...(comment !== undefined ? { comment } : {}) };
        siblings.push(statement);
      }
    }
  });
  return { nodes: root };
}

function tokenize(raw: string): { tokens: string[]; comment?: string } {
  const tokens: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quoted) {
      if (c === '"') quoted = false;
      else word += c;
      continue;
    }
    if (c === '"') { quoted = true; inWord = true; continue; }
    if ((c === '#' || c === '!') && !inWord) {
      return { tokens, comment: raw.slice(i + 1).trim() };
    }
    if (c === '{' || c === '}' || c === ' ' || c === '\t') {
      if (inWord) { tokens.push(word); word = ''; inWord = false; }
      if (c === '{' || c === '}') tokens.push(c);
      continue;
    }
    word += c;
    inWord = true;
  }
  if (inWord) tokens.push(word);
  return { tokens };
}

export function children(node: KeepalivedNode | undefined, keyword: string): KeepalivedNode[] {
  return node ? node.children.filter((c) => c.keyword === keyword) : [];
}

export function child(node: KeepalivedNode | undefined, keyword: string): KeepalivedNode | undefined {
  return children(node, keyword)[0];
}

export function topLevel(config: KeepalivedConfig, keyword: string): KeepalivedNode[] {
  return config.nodes.filter((n) => n.keyword === keyword);
}

/** A numeric argument (`priority 100`), when present and numeric. */
export function numberArg(node: KeepalivedNode | undefined, index = 0): number | undefined {
  const value = node?.args[index];
  return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
}
