export const EXCERPT_LENGTH = 120;

/**
 * The start of a post for lists: line breaks become single spaces, and `...` marks a cut.
 * `head` holds at most EXCERPT_LENGTH characters (counted as SQLite counts them, by code point).
 */
export function excerpt(head: string, cut: boolean): string {
  const flat = head.replace(/[ \t]*(?:\r\n|\r|\n)+[ \t]*/g, ' ');
  return cut ? `${flat}...` : flat;
}
