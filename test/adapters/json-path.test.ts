// The JSONPath subset the web metric provider reads values with.
import { describe, expect, it } from 'vitest';
import { parseJsonPath, readJsonPath } from '../../lambdas/adapters/metrics/json-path';

const document = {
  status: 'success',
  data: {
    result: [{ value: 1.5 }, { value: 2.5 }, { value: 3.5 }],
    'p95.ms': 412,
    "it's": 'quoted',
    empty: [],
    nothing: null,
  },
};

describe('readJsonPath', () => {
  it.each([
    ['$', document],
    ['$.status', 'success'],
    ['$.data.result[0].value', 1.5],
    ['$.data.result[-1].value', 3.5],
    ["$.data['p95.ms']", 412],
    ['$["data"]["p95.ms"]', 412],
    ["$.data['it\\'s']", 'quoted'],
    ['$.data.nothing', null],
  ])('reads %s', (path, expected) => {
    expect(readJsonPath(document, path)).toEqual(expected);
  });

  it.each([
    '$.missing',
    '$.data.result[3]',
    '$.data.result[-4]',
    '$.data.empty[0]',
    '$.status.length',
    '$.data.nothing.value',
    '$.data.result.value',
    '$.status[0]',
    '$.constructor',
  ])('answers undefined for %s, which is not there', (path) => {
    expect(readJsonPath(document, path)).toBeUndefined();
  });

  it('reads a top-level array', () => {
    expect(readJsonPath([[1, 2], [3, 4]], '$[1][0]')).toBe(3);
  });
});

describe('parseJsonPath', () => {
  it('splits a path into names and indexes', () => {
    expect(parseJsonPath('$.data.result[-1]["a b"].value_2')).toEqual(['data', 'result', -1, 'a b', 'value_2']);
  });

  it.each([
    ['data.value', 'expected it to start with $'],
    ['$.', 'expected a property name after "."'],
    ['$..value', 'expected a property name after "."'],
    ['$.data[', 'expected an integer index or a quoted name'],
    ['$.data[1.5]', 'expected an integer index or a quoted name'],
    ['$.data[*]', 'expected an integer index or a quoted name'],
    ["$.data['value]", 'unterminated quoted name'],
    ["$.data['value'", 'expected "]" after the quoted name'],
    ['$.data value', 'unexpected " "'],
    ['', 'expected it to start with $'],
  ])('rejects %j, naming the path', (path, problem) => {
    expect(() => parseJsonPath(path)).toThrow(`invalid JSON path ${JSON.stringify(path)}: ${problem}`);
  });
});
