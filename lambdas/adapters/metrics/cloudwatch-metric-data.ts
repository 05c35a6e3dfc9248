// GetMetricData shared by every CloudWatch metric of a Lambda container: the queries of one analysis that share a region and a window go in one call.
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchClientConfig, MessageData, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { MAX_METRIC_DATA_QUERIES } from '../../core/cloudwatch-query';
import type { CloudWatchMetricDataQuery, CloudWatchQuery } from '../../core/cloudwatch-query';
import { MetricProviderError } from '../../core/errors';

export interface MetricDataRequest {
  /** @default - the client's default region (AWS_REGION, as Lambda sets it) */
  readonly region?: string;
  readonly query: CloudWatchQuery;
  readonly start: Date;
  readonly end: Date;
  /** Time allowed for the call (all its pages), retries included. */
  readonly timeoutMs: number;
}

/** One time series GetMetricData returned for a query, its pages merged. */
export interface MetricDataSeries {
  readonly label?: string;
  readonly timestamps: readonly Date[];
  readonly values: readonly number[];
  /** Complete, PartialData (even after following NextToken), InternalError or Forbidden. */
  readonly statusCode?: string;
}

/** What GetMetricData answered for a request's value query (its one ReturnData query). */
export interface MetricDataAnswer {
  /** Usually one; a SEARCH expression can return several, each with its own label. */
  readonly series: readonly MetricDataSeries[];
  /** Messages on the result and on the whole answer, as `Code: text`. */
  readonly messages: readonly string[];
}

export interface CloudWatchMetricDataOptions {
  /** Settings for every client but the region (an endpoint and credentials, in tests). @default - the SDK's defaults: the Lambda role */
  readonly clientConfig?: Omit<CloudWatchClientConfig, 'region'>;
  /** Makes the client for a region (undefined: the default region), once per region. @default - a CloudWatchClient with clientConfig */
  readonly createClient?: (region: string | undefined) => CloudWatchClient;
}

/** Pages followed for one call before giving up; a window of minutes never needs more than one. */
const MAX_PAGES = 20;
/** Room left in an Id for the prefix a batch gives it (Ids are at most 255 characters). */
const MAX_BATCHED_ID_CHARS = 248;
/** Errors that blame the request, which one query of a batch may have caused: such a batch is retried one query at a time. */
const REQUEST_ERROR = /Validation|InvalidParameter|MissingParameter|MissingRequiredParameter/;

interface Pending {
  readonly request: MetricDataRequest;
  readonly resolve: (answer: MetricDataAnswer) => void;
  readonly reject: (error: Error) => void;
}

/**
 * GetMetricData with batching. Each CloudWatchProvider asks for one query over one window;
 * requests made in the same turn of the event loop (AnalyzeMetrics asks for every metric at
 * once) that share a region and a window go to CloudWatch as one call of up to 500 queries, each
 * request's Ids prefixed (`t0_m1`, and `t0_m1` in its expressions) so that two templates can
 * both call a query `m1`. GetMetricData takes one StartTime and EndTime per call, so metrics with
 * different windows (interval, lag) take one call each. A query using `METRICS()` (which sees
 * every query in its call) or a Metrics Insights `SELECT` is never batched with others.
 */
export class CloudWatchMetricData {
  private readonly clients = new Map<string, CloudWatchClient>();
  private pending: Pending[] = [];

  constructor(private readonly options: CloudWatchMetricDataOptions = {}) {}

  /** The answer for one request's value query; throws MetricProviderError (`GetMetricData failed: …`) when CloudWatch errors or times out. */
  fetch(request: MetricDataRequest): Promise<MetricDataAnswer> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ request, resolve, reject });
    });
  }

  /** A GetMetricData over the last minutes, for a metric nobody publishes: throws unless CloudWatch answers this caller. */
  async checkOnline(region: string | undefined, timeoutMs: number): Promise<void> {
    const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const query: MetricDataQuery = {
      Id: 'online',
      MetricStat: { Metric: { Namespace: 'Fledge/CheckOnline', MetricName: 'Online' }, Period: 60, Stat: 'Sum' },
    };
    await this.call(region, [query], new Date(end.getTime() - 5 * 60_000), end, timeoutMs);
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    const groups = new Map<string, Pending[]>();
    pending.forEach((entry, i) => {
      const { region, start, end, query } = entry.request;
      const key = batchable(query) ? `${region ?? ''} ${start.toISOString()} ${end.toISOString()}` : `alone ${i}`;
      const group = groups.get(key) ?? [];
      group.push(entry);
      groups.set(key, group);
    });
    for (const group of groups.values()) {
      let chunk: Pending[] = [];
      let size = 0;
      for (const entry of group) {
        const count = entry.request.query.queries.length;
        if (size + count > MAX_METRIC_DATA_QUERIES && chunk.length > 0) {
          this.dispatch(chunk);
          chunk = [];
          size = 0;
        }
        chunk.push(entry);
        size += count;
      }
      if (chunk.length > 0) this.dispatch(chunk);
    }
  }

  /** Run a call; whatever goes wrong, every caller gets an answer or an error, never a promise left pending. */
  private dispatch(members: readonly Pending[]): void {
    this.run(members).catch((error: unknown) => {
      for (const member of members) member.reject(error instanceof Error ? error : new MetricProviderError(String(error)));
    });
  }

  /** One call for requests sharing a region and a window; each gets its own value query's answer. */
  private async run(members: readonly Pending[]): Promise<void> {
    const { region, start, end } = members[0].request;
    const timeoutMs = Math.max(...members.map((member) => member.request.timeoutMs));
    // Alone in its call, a request keeps its own Ids, so CloudWatch's messages name them as written.
    const prefixes = members.length === 1 ? [''] : members.map((_member, i) => `t${i}_`);
    const queries = members.flatMap((member, i) => member.request.query.queries.map((query) => withPrefix(query, prefixes[i], member.request.query)));
    let answer: CallAnswer;
    try {
      answer = await this.call(region, queries, start, end, timeoutMs);
    } catch (error) {
      if (members.length > 1 && error instanceof MetricProviderError && REQUEST_ERROR.test(error.message)) {
        // One template may be at fault: run each alone, so that the error lands on it and the others get their values.
        await Promise.all(members.map((member) => this.run([member])));
        return;
      }
      for (const member of members) member.reject(error as Error);
      return;
    }
    members.forEach((member, i) => {
      const id = prefixes[i] + member.request.query.valueId;
      const results = answer.results.get(id) ?? [];
      member.resolve({
        series: results,
        messages: [...answer.messages, ...results.flatMap((result) => result.messages)],
      });
    });
  }

  /** GetMetricData, following NextToken; throws MetricProviderError with CloudWatch's reason (the provider adds the region). */
  private async call(region: string | undefined, queries: MetricDataQuery[], start: Date, end: Date, timeoutMs: number): Promise<CallAnswer> {
    const where = 'GetMetricData';
    const signal = AbortSignal.timeout(timeoutMs);
    const results = new Map<string, (MetricDataSeries & { messages: string[] })[]>();
    const messages: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let output;
      try {
        output = await this.client(region).send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: start,
            EndTime: end,
            // The newest datapoint first, as Flagger reads them; it is on the first page.
            ScanBy: 'TimestampDescending',
            NextToken: nextToken,
          }),
          { abortSignal: signal },
        );
      } catch (error) {
        if (signal.aborted || (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))) {
          throw new MetricProviderError(`${where} did not answer within ${timeoutMs} ms`);
        }
        const name = error instanceof Error ? error.name : 'Error';
        const message = error instanceof Error ? error.message : String(error);
        throw new MetricProviderError(`${where} failed: ${name}: ${message.trim()}`);
      }
      messages.push(...(output.Messages ?? []).map(showMessage));
      for (const result of output.MetricDataResults ?? []) {
        const id = result.Id ?? '';
        const series = results.get(id) ?? [];
        results.set(id, series);
        let entry = series.find((s) => s.label === result.Label);
        if (!entry) {
          entry = { label: result.Label, timestamps: [], values: [], messages: [] };
          series.push(entry);
        }
        (entry.timestamps as Date[]).push(...(result.Timestamps ?? []));
        (entry.values as number[]).push(...(result.Values ?? []));
        (entry as { statusCode?: string }).statusCode = result.StatusCode;
        entry.messages.push(...(result.Messages ?? []).map(showMessage));
      }
      nextToken = output.NextToken;
      if (!nextToken) return { results, messages };
    }
    throw new MetricProviderError(`${where} was still answering with NextToken after ${MAX_PAGES} pages`);
  }

  private client(region: string | undefined): CloudWatchClient {
    const key = region ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = this.options.createClient?.(region) ?? new CloudWatchClient({ ...this.options.clientConfig, ...(region ? { region } : {}) });
      this.clients.set(key, client);
    }
    return client;
  }
}

interface CallAnswer {
  readonly results: ReadonlyMap<string, (MetricDataSeries & { readonly messages: readonly string[] })[]>;
  readonly messages: readonly string[];
}

function showMessage(message: MessageData): string {
  return [message.Code, message.Value].filter((part) => part !== undefined && part !== '').join(': ');
}

/** Whether a request's queries can share a call with others' (see CloudWatchMetricData). */
function batchable(query: CloudWatchQuery): boolean {
  return query.queries.every(
    (q) =>
      q.Id.length <= MAX_BATCHED_ID_CHARS &&
      (q.Expression === undefined || (!/\bMETRICS\s*\(/i.test(q.Expression) && !/^\s*SELECT\b/i.test(q.Expression))),
  );
}

function withPrefix(query: CloudWatchMetricDataQuery, prefix: string, all: CloudWatchQuery): MetricDataQuery {
  if (prefix === '') return query as MetricDataQuery;
  const ids = new Set(all.queries.map((q) => q.Id));
  return {
    ...(query as MetricDataQuery),
    Id: prefix + query.Id,
    ...(query.Expression === undefined ? {} : { Expression: renameIds(query.Expression, ids, prefix) }),
  };
}

/**
 * Prefix each reference to one of the request's Ids in a metric math expression. An Id is a
 * name that starts with a lowercase letter; function names (FILL, IF, SEARCH) are upper case and
 * followed by "(", and text in quotes (a SEARCH's filter, a label) is left alone.
 */
export function renameIds(expression: string, ids: ReadonlySet<string>, prefix: string): string {
  let out = '';
  let i = 0;
  while (i < expression.length) {
    const char = expression[i];
    if (char === '"' || char === "'") {
      let j = i + 1;
      while (j < expression.length && expression[j] !== char) j += expression[j] === '\\' ? 2 : 1;
      out += expression.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expression.slice(i))?.[0];
    if (name) {
      const call = /^\s*\(/.test(expression.slice(i + name.length));
      out += ids.has(name) && !call ? prefix + name : name;
      i += name.length;
      continue;
    }
    // A number's digits and exponent stay together: "1e5" is no Id.
    const number = /^[0-9.]+([eE][+-]?[0-9]+)?/.exec(expression.slice(i))?.[0];
    if (number) {
      out += number;
      i += number.length;
      continue;
    }
    out += char;
    i++;
  }
  return out;
}
