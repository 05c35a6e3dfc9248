// Go-style durations as Flagger writes them ("1m", "30s", "1h30m", "500ms") converted to seconds.

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;

/** Seconds in a duration string, or undefined when the string is not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(trimmed); match; match = PART.exec(trimmed)) {
    total += Number(match[1]) * UNIT_SECONDS[match[2]];
    consumed = PART.lastIndex;
  }
  return consumed === trimmed.length ? total : undefined;
}

