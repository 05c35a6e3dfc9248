// How an error message shows a value it was given: short, bounded, and never a credential.

const SENSITIVE = /auth|token|secret|password|passwd|cookie|key|credential|headers/i;
const MAX_CHARS = 80;
/** Longer strings are described, not shown: masking credentials in them costs too much to be safe. */
const MAX_SHOWN_INPUT = 200;

/** A URL with a user name or password in it (`https://user:password@host/`). */
export function hasUrlCredentials(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.username !== '' || parsed.password !== '';
}

/** Masks whatever precedes an "@" in each word of a short text: URL userinfo (`scheme://user:password@`, `mailto:user:password@`). */
export function maskUrlCredentials(text: string): string {
  return text
    .split(/(\s+)/)
    .map((word) => {
      const at = word.lastIndexOf('@');
      if (at < 0) return word;
      const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(word)?.[0] ?? '';
      return `${scheme}***${word.slice(at)}`;
    })
    .join('');
}

/**
 * The value as an error message shows it after "got": short strings as JSON with URL
 * credentials masked, other scalars as they are, long strings, lists and objects by kind
 * only, and nothing at all under a path that may hold a credential (headers, tokens, keys…).
 */
export function showValue(value: unknown, path: readonly PropertyKey[] = []): string {
  if (path.some((segment) => typeof segment === 'string' && SENSITIVE.test(segment))) return 'a value not shown (it may be a credential)';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    if (value.length > MAX_SHOWN_INPUT) return `a string of ${value.length} characters`;
    const masked = maskUrlCredentials(value);
    return JSON.stringify(masked.length > MAX_CHARS ? `${masked.slice(0, MAX_CHARS)}…` : masked);
  }
  return String(value);
}
