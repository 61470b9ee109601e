// A small BIRD 2 configuration reader: statements end with ';', blocks are '{ … }' (a block may be followed by
// ';'), comments are '#' to the end of the line and '/* … */'; quotes group words. Each statement keeps its
// words and the line it starts on. Enough to find protocols, templates and their options, not a validator
// (`bird -p -c FILE` is).

export interface BirdNode {
  words: string[];
  line: number;
  children: BirdNode[];
}

export interface BirdConfig {
  nodes: BirdNode[];
}

export function parseBird(text: string): BirdConfig {
  const root: BirdNode[] = [];
  const stack: BirdNode[][] = [root];
  let current: BirdNode | undefined;
  let line = 1;
  let i = 0;
  const word = (w: string) => {
    if (!current) {
      current = { words: [], line, children: [] };
      stack[stack.length - 1].push(current);
    }
    current.words.push(w);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') { line++; i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) { if (text[i] === '\n') line++; i++; }
      i += 2;
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (c === ';') { current = undefined; i++; continue; }
    if (c === '{') {
      if (!current) { current = { words: [], line, children: [] }; stack[stack.length - 1].push(current); }
      stack.push(current.children);
      current = undefined;
      i++;
      continue;
    }
    if (c === '}') { if (stack.length > 1) stack.pop(); current = undefined; i++; continue; }
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end++;
      word(text.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    let end = i;
    while (end < text.length && !/[\s;{}#"]/.test(text[end])) end++;
    word(text.slice(i, end));
    i = end;
  }
  return { nodes: root };
}

/** Top-level `protocol <type> …` and `template <type> …` statements of one type. */
export function protocols(config: BirdConfig, type: string): BirdNode[] {
  return config.nodes.filter((n) => (n.words[0] === 'protocol' || n.words[0] === 'template') && n.words[1] === type);
}

/** The first statement among `node`'s children (and their channel blocks) whose words start with `prefix`. */
export function option(node: BirdNode, ...prefix: string[]): BirdNode | undefined {
  for (const child of node.children) {
    if (prefix.every((p, i) => child.words[i] === p)) return child;
    const nested = child.children.length > 0 ? option(child, ...prefix) : undefined;
    if (nested) return nested;
  }
  return undefined;
}

/** The protocol's own statement or the one it inherits from its template (`protocol bgp x from tpl`). */
export function inherited(config: BirdConfig, node: BirdNode, ...prefix: string[]): BirdNode | undefined {
  const own = option(node, ...prefix);
  if (own) return own;
  const from = node.words.indexOf('from');
  if (from < 0) return undefined;
  const template = config.nodes.find((n) => n.words[0] === 'template' && n.words[2] === node.words[from + 1]);
  return template ? inherited(config, template, ...prefix) : undefined;
}

/** A name for messages: "protocol bgp tor1". */
export function label(node: BirdNode): string {
  return node.words.slice(0, 3).join(' ');
}
