// What went wrong on the wire when fetch fails: the socket error code it hides in `cause`.

/** fetch hides the socket error in `cause` (an AggregateError when several addresses were tried). */
export function networkErrorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; errors?: { code?: unknown }[]; message?: unknown } })?.cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
