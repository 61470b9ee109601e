// Misspelt keywords: a word the engine does not know that is one or two edits from one it does. Words
// far from every keyword are left alone (they may be new keywords, or values), so a newer engine's
// vocabulary never turns into a false alarm.
import { didYouMean } from '../spec/load.js';

/** The known keyword `word` is probably a typo of, or undefined when it is known or not close to any. */
export function misspeltKeyword(word: string, known: ReadonlySet<string>): string | undefined {
  if (known.has(word) || word.length < 3 || !/^[a-z][a-z0-9_.-]*$/i.test(word)) return undefined;
  // Three letters are too short to measure: only a missing last letter ("fal" for "fall") counts.
  if (word.length === 3) {
    const longer = [...known].filter((k) => k.length === 4 && k.startsWith(word));
    return longer.length === 1 ? longer[0] : undefined;
  }
  const suggestion = didYouMean(word, [...known].filter((k) => k.length >= 4 && k[0].toLowerCase() === word[0].toLowerCase()));
  return suggestion;
}
