// CloudWatch queries as Flagger's MetricTemplates write them: a JSON list of GetMetricData MetricDataQuery objects, checked with paths.
import { showValue } from './show-value';

export interface CloudWatchDimension {
  readonly Name: string;
  readonly Value: string;
}

export interface CloudWatchMetricStat {
  readonly Metric: {
    readonly Namespace: string;
    readonly MetricName: string;
    readonly Dimensions?: readonly CloudWatchDimension[];
  };
  readonly Period: number;
  readonly Stat: string;
  readonly Unit?: string;
}

/** One MetricDataQuery, with the field names GetMetricData takes (Flagger passes the JSON to the Go SDK as is). */
export interface CloudWatchMetricDataQuery {
  readonly Id: string;
  readonly MetricStat?: CloudWatchMetricStat;
  readonly Expression?: string;
  readonly Label?: string;
  readonly ReturnData?: boolean;
  readonly Period?: number;
  readonly AccountId?: string;
}

export interface CloudWatchQuery {
  readonly queries: readonly CloudWatchMetricDataQuery[];
  /** The Id of the one query whose data is the metric's value: ReturnData true, or not set (GetMetricData's default). */
  readonly valueId: string;
}

export type CloudWatchQueryParse =
  | { readonly ok: true; readonly query: CloudWatchQuery }
  | { readonly ok: false; readonly issues: readonly string[] };

/** GetMetricData takes at most 500 queries in one call. */
export const MAX_METRIC_DATA_QUERIES = 500;
/** CloudWatch's own limits on a query's fields. */
const MAX_ID_CHARS = 255;
const MAX_EXPRESSION_CHARS = 2048;
const MAX_DIMENSIONS = 30;
/** Ids start with a lowercase letter and hold letters, digits and underscores. */
const ID = /^[a-z][a-zA-Z0-9_]*$/;
/** Periods CloudWatch accepts: high resolution (1, 5, 10, 20, 30 s) or whole minutes. */
const HIGH_RESOLUTION_PERIODS = [1, 5, 10, 20, 30];
/** CloudWatch's StandardUnit values; a Unit that matches none of a metric's data filters all of it out, silently. */
const UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits',
  'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second',
  'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second',
  'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
];

/**
 * A placeholder stands in for a `{{ }}` variable while the template (not yet rendered) is
 * checked at load: a string holding it may be anything once rendered, so only its presence is checked.
 */
const PLACEHOLDER_MARK = '\u0001';
const TEMPLATE_VARIABLE = /\{\{[^{}]*\}\}/g;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Fields = Record<string, (value: Json, at: string, issues: string[]) => unknown>;

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTemplated(value: Json): boolean {
  return typeof value === 'string' && value.includes(PLACEHOLDER_MARK);
}

function got(value: Json): string {
  if (isTemplated(value)) return 'a {{ }} variable';
  return showValue(value);
}

function string(options: { max?: number; pattern?: RegExp; patternText?: string; oneOf?: readonly string[] } = {}) {
  return (value: Json, at: string, issues: string[]): string | undefined => {
    if (typeof value !== 'string' || value === '') {
      issues.push(`${at}: expected a non-empty string, got ${got(value)}`);
      return undefined;
    }
    if (isTemplated(value)) return value;
    if (options.max !== undefined && value.length > options.max) {
      issues.push(`${at}: expected at most ${options.max} characters, got ${value.length}`);
    } else if (options.pattern && !options.pattern.test(value)) {
      issues.push(`${at}: expected ${options.patternText}, got ${got(value)}`);
    } else if (options.oneOf && !options.oneOf.includes(value)) {
      issues.push(`${at}: expected a CloudWatch unit (${options.oneOf.join(', ')}), got ${got(value)}`);
    }
    return value;
  };
}

function period(value: Json, at: string, issues: string[]): number | undefined {
  if (isTemplated(value)) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    issues.push(`${at}: expected a period in seconds (1, 5, 10, 20, 30 or a multiple of 60), got ${got(value)}`);
    return undefined;
  }
  if (!HIGH_RESOLUTION_PERIODS.includes(value) && value % 60 !== 0) {
    issues.push(`${at}: expected a period in seconds (1, 5, 10, 20, 30 or a multiple of 60), got ${value}`);
  }
  return value;
}

function boolean(value: Json, at: string, issues: string[]): boolean | undefined {
  if (isTemplated(value)) return undefined;
  if (typeof value !== 'boolean') {
    issues.push(`${at}: expected true or false, got ${got(value)}`);
    return undefined;
  }
  return value;
}

/**
 * Reads an object's fields as Go's encoding/json reads them into the SDK's structs (Flagger's
 * reader): names match case-insensitively. Unlike Go, an unknown or repeated field is an error,
 * not ignored: a misspelt "ReturnData" would silently change which query is the value.
 */
function object(value: Json, at: string, issues: string[], fields: Fields, required: readonly string[]): Record<string, unknown> | undefined {
  if (!isObject(value)) {
    issues.push(`${at}: expected an object, got ${got(value)}`);
    return undefined;
  }
  const canonical = new Map(Object.keys(fields).map((name) => [name.toLowerCase(), name]));
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const name = canonical.get(key.toLowerCase());
    if (name === undefined) {
      issues.push(`${at}: unknown field ${showValue(key)} (expected ${Object.keys(fields).join(', ')})`);
      continue;
    }
    if (Object.hasOwn(out, name)) {
      issues.push(`${at}.${name}: given twice`);
      continue;
    }
    const parsed = fields[name](child, `${at}.${name}`, issues);
    out[name] = parsed === undefined && isTemplated(child) ? child : parsed;
  }
  for (const name of required.filter((field) => !Object.hasOwn(out, field))) {
    issues.push(`${at}.${name}: required, got nothing`);
  }
  return out;
}

function list<T>(value: Json, at: string, issues: string[], max: number, item: (value: Json, at: string) => T): T[] {
  if (!Array.isArray(value)) {
    issues.push(`${at}: expected a list, got ${got(value)}`);
    return [];
  }
  if (value.length > max) issues.push(`${at}: expected at most ${max} entries, got ${value.length}`);
  return value.map((entry, i) => item(entry, `${at}[${i}]`));
}

const dimension: Fields = { Name: string({ max: 255 }), Value: string({ max: 1024 }) };

const metric: Fields = {
  Namespace: string({ max: 255 }),
  MetricName: string({ max: 255 }),
  Dimensions: (value, at, issues) => list(value, at, issues, MAX_DIMENSIONS, (entry, entryAt) => object(entry, entryAt, issues, dimension, ['Name', 'Value'])),
};

const metricStat: Fields = {
  Metric: (value, at, issues) => object(value, at, issues, metric, ['Namespace', 'MetricName']),
  Period: period,
  Stat: string({ max: 255 }),
  Unit: string({ oneOf: UNITS }),
};

const metricDataQuery: Fields = {
  Id: string({ max: MAX_ID_CHARS, pattern: ID, patternText: 'an Id that starts with a lowercase letter and holds only letters, digits and "_"' }),
  MetricStat: (value, at, issues) => object(value, at, issues, metricStat, ['Metric', 'Period', 'Stat']),
  Expression: string({ max: MAX_EXPRESSION_CHARS }),
  Label: (value, at, issues) => (typeof value === 'string' ? value : (issues.push(`${at}: expected a string, got ${got(value)}`), undefined)),
  ReturnData: boolean,
  Period: period,
  AccountId: string({ max: 255 }),
};

/** Where JSON.parse stopped, as a line and column, without quoting the text (JSON.parse's own message does). */
function jsonErrorPosition(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  const match = /position (\d+)/.exec(message);
  if (!match) return /end of JSON input/.test(message) ? ' (invalid JSON: it ends too early)' : ' (invalid JSON)';
  const before = text.slice(0, Number(match[1])).split('\n');
  return ` (invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1})`;
}

function parseJson(text: string, at: string): { ok: true; value: Json } | { ok: false; issues: string[] } {
  try {
    return { ok: true, value: JSON.parse(text) as Json };
  } catch (error) {
    return { ok: false, issues: [`${at}: expected a JSON list of CloudWatch MetricDataQuery objects${jsonErrorPosition(error, text)}`] };
  }
}

function check(value: Json, at: string): CloudWatchQueryParse {
  const issues: string[] = [];
  if (Array.isArray(value) && value.length === 0) {
    return { ok: false, issues: [`${at}: expected at least one MetricDataQuery, got an empty list`] };
  }
  const queries = list(value, at, issues, MAX_METRIC_DATA_QUERIES, (entry, entryAt) =>
    object(entry, entryAt, issues, metricDataQuery, ['Id']),
  );
  const ids = new Map<unknown, number>();
  const valueIndexes: number[] = [];
  queries.forEach((query, i) => {
    if (query === undefined) return;
    const entryAt = `${at}[${i}]`;
    if (typeof query.Id === 'string' && !isTemplated(query.Id)) {
      const first = ids.get(query.Id);
      if (first !== undefined) issues.push(`${entryAt}.Id: ${showValue(query.Id)} is also the Id of ${at}[${first}]`);
      else ids.set(query.Id, i);
    }
    const hasStat = Object.hasOwn(query, 'MetricStat');
    const hasExpression = Object.hasOwn(query, 'Expression');
    if (hasStat === hasExpression) {
      issues.push(`${entryAt}: set exactly one of MetricStat and Expression, got ${hasStat ? 'both' : 'neither'}`);
    }
    if (query.ReturnData !== false) valueIndexes.push(i);
  });
  if (issues.length === 0 && valueIndexes.length !== 1) {
    const which = valueIndexes.map((i) => `${at}[${i}]`).join(', ');
    issues.push(
      valueIndexes.length === 0
        ? `${at}: no query returns data; set "ReturnData": true on the one query whose value is the metric`
        : `${at}: ${valueIndexes.length} queries return data (${which}); the metric's value must be exactly one, set "ReturnData": false on the others`,
    );
  }
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    query: { queries: queries as unknown as CloudWatchMetricDataQuery[], valueId: String(queries[valueIndexes[0]]!.Id) },
  };
}

/** Parse a rendered CloudWatch query: the JSON list GetMetricData takes, field names matched as Flagger matches them. */
export function parseCloudWatchQuery(text: string, at: string): CloudWatchQueryParse {
  const json = parseJson(text, at);
  return json.ok ? check(json.value, at) : json;
}

/**
 * Check a query template at load, before any variable is known: each `{{ }}` variable stands
 * for a value that is only checked for presence, so a template with `"Value": "{{ target }}"`
 * or `"Period": {{ variables.period }}` passes, and a broken list is refused with its path.
 */
export function checkCloudWatchQueryTemplate(template: string, at: string): readonly string[] {
  const json = parseJson(markVariables(template), at);
  if (!json.ok) return json.issues;
  const result = check(json.value, at);
  return result.ok ? [] : result.issues;
}

/** Replace each `{{ }}` variable with a marked string: inside a JSON string by the mark, elsewhere by a quoted mark. */
function markVariables(template: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const char = template[i];
    if (char === '{' && template[i + 1] === '{') {
      TEMPLATE_VARIABLE.lastIndex = i;
      const match = TEMPLATE_VARIABLE.exec(template);
      if (match && match.index === i) {
        out += inString ? '\\u0001' : '"\\u0001"';
        i += match[0].length - 1;
        continue;
      }
    }
    if (inString && char === '\\') {
      out += char + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if (char === '"') inString = !inString;
    out += char;
  }
  return out;
}

/**
 * The smallest period the queries name (MetricStat or query Period), at most 60: the window is
 * aligned to it, so each datapoint covers whole periods and the newest one is complete.
 */
export function alignmentSeconds(query: CloudWatchQuery): number {
  const periods = query.queries.flatMap((q) => [q.MetricStat?.Period, q.Period]).filter((p): p is number => typeof p === 'number');
  return Math.min(60, ...periods);
}
