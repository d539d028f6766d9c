/** Longest accepted search input and most terms used from it. */
export const MAX_QUERY_LENGTH = 200;
const MAX_TERMS = 16;

/**
 * Turns what a reader typed into an FTS5 query that matches posts containing every word.
 * Each word is quoted, so FTS5 operators (AND, OR, NOT, NEAR, `*`, `^`, `:`, parentheses,
 * quotes) in the input are searched for as plain words and can never break the query.
 * Returns undefined when the input holds no word at all.
 */
export function ftsQuery(input: string): string | undefined {
  const words = input.match(/[\p{L}\p{N}\p{M}_]+/gu);
  if (!words) return undefined;
  return words
    .slice(0, MAX_TERMS)
    .map((word) => `"${word}"`)
    .join(' ');
}
