import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { HAPROXY_GLOBAL_KEYWORDS, HAPROXY_KEYWORD_FAMILIES, HAPROXY_PROXY_KEYWORDS, HAPROXY_SERVER_KEYWORDS } from '../../keywords/haproxy.js';
import { servers, type HaproxyDirective, type HaproxySection } from '../../parsers/haproxy.js';
import { misspeltKeyword } from '../../spelling.js';
import { HAPROXY_DOCS } from './backends.js';

const PROXY_SECTIONS = new Set(['defaults', 'frontend', 'backend', 'listen']);
const FAMILIES = new Map(Object.entries(HAPROXY_KEYWORD_FAMILIES).map(([k, v]) => [k, new Set(v)]));
const SERVER_KEYWORDS = new Set(HAPROXY_SERVER_KEYWORDS.keys());

/**
 * Misspelt keywords, in the words `haproxy -c` uses for them: a section keyword, an option or timeout
 * name, or a server setting one or two edits from a known one (known: every keyword HAProxy 2.0 to the
 * newest release documents, src/doctor/keywords/haproxy.ts). HAProxy refuses to start on them.
 */
export const haproxyUnknownKeyword = defineRule({
  id: 'haproxy/unknown-keyword',
  kind: 'haproxy',
  check(file) {
    const found: RuleFinding[] = [];
    const report = (d: HaproxyDirective, message: string): void => { found.push({
      severity: 'error', line: d.line, message,
      why: 'HAProxy refuses a configuration with an unknown keyword ("haproxy -c" reports it and a reload keeps the old configuration), so the change never takes effect',
      source: `${HAPROXY_DOCS} (keyword reference) ; haproxy -c`,
      fix: 'correct the spelling',
    }); };
    for (const section of file.config.sections) {
      const known = section.kind === 'global' ? HAPROXY_GLOBAL_KEYWORDS : PROXY_SECTIONS.has(section.kind) ? HAPROXY_PROXY_KEYWORDS : undefined;
      if (!known) continue;
      for (const d of section.directives) {
        // Conditional blocks (.if/.endif) and diagnostics (.notice) are not keywords.
        if (d.words[0].startsWith('.')) continue;
        const words = d.words[0] === 'no' || d.words[0] === 'default' ? d.words.slice(1) : d.words;
        const keyword = words[0] ?? '';
        const typo = misspeltKeyword(keyword, known);
        if (typo) {
          report(d, `unknown keyword '${keyword}' in '${section.kind}' section; did you mean '${typo}'?`);
          continue;
        }
        const family = FAMILIES.get(keyword);
        if (section.kind !== 'global' && (keyword === 'option' || keyword === 'timeout') && family && words[1]) {
          const second = misspeltKeyword(words[1], family);
          if (second) report(d, `unknown ${keyword} '${words[1]}'; did you mean '${second}'?`);
        }
      }
      if (section.kind !== 'global') serverTypos(section, report);
    }
    return found;
  },
});

function serverTypos(section: HaproxySection, report: (d: HaproxyDirective, message: string) => void): void {
  const lines = [
    ...servers(section).map((s) => ({ d: s.directive, label: `'${s.directive.words[0]} ${section.name}/${s.name}'`, flags: s.flags })),
    ...section.directives.filter((d) => d.words[0] === 'default-server').map((d) => ({ d, label: "'default-server'", flags: d.words.slice(1) })),
  ];
  for (const { d, label, flags } of lines) {
    for (let i = 0; i < flags.length; i++) {
      const word = flags[i];
      const arity = HAPROXY_SERVER_KEYWORDS.get(word) ?? HAPROXY_SERVER_KEYWORDS.get(word.replace(/^no-/, ''));
      if (arity !== undefined) { i += word.startsWith('no-') && !HAPROXY_SERVER_KEYWORDS.has(word) ? 0 : arity; continue; }
      const typo = misspeltKeyword(word, SERVER_KEYWORDS);
      if (typo) report(d, `${label}: unknown keyword '${word}'; did you mean '${typo}'?`);
      // An unknown word that is no typo may be a newer keyword's value: stop rather than guess.
      break;
    }
  }
}
