// A tiny JSONPath subset for the web metric provider: `$`, `.name`, `['name']`, `["name"]`, `[0]`, `[-1]`.

/** One step of a parsed path: a property name, or an array index (negative counts from the end). */
export type JsonPathSegment = string | number;

/** Parse a path into its steps. Throws an Error naming the path and where it is malformed. */
export function parseJsonPath(path: string): JsonPathSegment[] {
  function fail(position: number, problem: string): never {
    throw new Error(`invalid JSON path ${JSON.stringify(path)}: ${problem} at position ${position}`);
  }
  if (!path.startsWith('$')) fail(0, 'expected it to start with $');

  const segments: JsonPathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const char = path[i];
    if (char === '.') {
      const name = /^[A-Za-z_$][\w$-]*/.exec(path.slice(i + 1))?.[0];
      if (name === undefined) fail(i + 1, 'expected a property name after "."');
      segments.push(name);
      i += 1 + name.length;
    } else if (char === '[') {
      const quote = path[i + 1];
      if (quote === "'" || quote === '"') {
        let name = '';
        let j = i + 2;
        for (; j < path.length && path[j] !== quote; j++) {
          // A backslash escapes the quote or itself, so any key can be written.
          if (path[j] === '\\' && j + 1 < path.length) j++;
          name += path[j];
        }
        if (j >= path.length) fail(i, 'unterminated quoted name');
        if (path[j + 1] !== ']') fail(j + 1, 'expected "]" after the quoted name');
        segments.push(name);
        i = j + 2;
      } else {
        const index = /^(-?\d+)\]/.exec(path.slice(i + 1));
        if (index === null) fail(i + 1, 'expected an integer index or a quoted name inside "[]"');
        segments.push(Number(index[1]));
        i += 1 + index[0].length;
      }
    } else {
      fail(i, `unexpected ${JSON.stringify(char)}`);
    }
  }
  return segments;
}

/**
 * Read the value at `path` in a parsed JSON document. Returns undefined when any step is
 * missing: an absent property, an index outside the array, or a step into a primitive.
 */
export function readJsonPath(document: unknown, path: string | readonly JsonPathSegment[]): unknown {
  const segments = typeof path === 'string' ? parseJsonPath(path) : path;
  let current: unknown = document;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[segment < 0 ? current.length + segment : segment];
    } else {
      // Own properties only: a path like `$.constructor` must not reach into the prototype.
      if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return current;
}
