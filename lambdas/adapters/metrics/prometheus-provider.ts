// Prometheus metric provider: runs one instant PromQL query and answers its single value, or no data.
import { ConfigurationError, MetricProviderError } from '../../core/errors';
import { showValue } from '../../core/show-value';
import { NO_DATA } from '../../ports/metric-provider';
import { networkErrorCode } from '../network-error';
import type { MetricProvider, NoData, QueryWindow } from '../../ports/metric-provider';

export interface PrometheusProviderOptions {
  /**
   * Base URL of the Prometheus HTTP API; a path prefix is kept, so an Amazon Managed
   * Prometheus workspace URL works. Credentials in the URL are sent as basic auth.
   */
  readonly address: string;
  /** Time allowed for one query, connection included. @default 5000 */
  readonly timeoutMs?: number;
  /** Extra request headers (a tenant header, for example). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Bearer <token>`. @default - no bearer token */
  readonly bearerToken?: string;
  /** Sent as `Authorization: Basic …`. @default - no basic auth */
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

const DEFAULT_TIMEOUT_MS = 5000;
const QUERY_SHOWN_CHARS = 200;

export class PrometheusProvider implements MetricProvider {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  /** Every secret this provider holds, scrubbed from any message it builds. */
  private readonly secrets: string[] = [];

  constructor(options: PrometheusProviderOptions) {
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new ConfigurationError(`Prometheus address must be an http(s) URL, got ${showValue(options.address)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigurationError(`Prometheus address must be an http(s) URL, got protocol ${url.protocol}`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`Prometheus timeoutMs must be a positive number, got ${options.timeoutMs}`);
    }
    if (options.bearerToken !== undefined && options.basicAuth !== undefined) {
      throw new ConfigurationError('Prometheus takes bearerToken or basicAuth, not both');
    }

    // fetch refuses URLs that carry credentials, so move them into the header instead.
    let basicAuth = options.basicAuth;
    if (url.username !== '' || url.password !== '') {
      basicAuth ??= { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      url.username = '';
      url.password = '';
    }
    this.baseUrl = url.href.replace(/\/+$/, '');

    this.headers = { accept: 'application/json' };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      this.headers[name.toLowerCase()] = value;
      if (/auth|token|key|secret|cookie|pass/i.test(name)) this.secrets.push(value);
    }
    if (options.bearerToken !== undefined) {
      this.headers.authorization = `Bearer ${options.bearerToken}`;
      this.secrets.push(options.bearerToken);
    }
    if (basicAuth !== undefined) {
      const encoded = Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64');
      this.headers.authorization = `Basic ${encoded}`;
      this.secrets.push(basicAuth.password, encoded);
    }
  }

  async query(renderedQuery: string, window: QueryWindow): Promise<number | NoData> {
    const seconds = window.end.getTime() / 1000;
    if (!Number.isFinite(seconds)) {
      throw new MetricProviderError(`query window end is not a valid time: ${String(window.end)}`);
    }
    return this.evaluate(renderedQuery, seconds.toFixed(3));
  }

  async checkOnline(): Promise<void> {
    // A query rather than /-/ready: Amazon Managed Prometheus serves only the query API.
    const value = await this.evaluate('vector(1)');
    if (value !== 1) {
      const found = value === NO_DATA ? 'no data' : String(value);
      throw this.error(`Prometheus at ${this.baseUrl} answered vector(1) with ${found}, expected 1`);
    }
  }

  /** Instant query at `time` (unix seconds), or at Prometheus's "now" when no time is given. */
  private async evaluate(query: string, time?: string): Promise<number | NoData> {
    const url = new URL(`${this.baseUrl}/api/v1/query`);
    url.searchParams.set('query', query);
    if (time !== undefined) url.searchParams.set('time', time);
    // Prometheus stops evaluating at its own timeout too, instead of working on for nobody.
    url.searchParams.set('timeout', `${this.timeoutMs}ms`);

    const { status, body } = await this.get(url);
    const json = parseJson(body);
    if (status < 200 || status > 299) {
      const detail = prometheusError(json) ?? (body.trim().slice(0, QUERY_SHOWN_CHARS) || 'empty body');
      throw this.error(`Prometheus at ${this.baseUrl} answered HTTP ${status} to ${showQuery(query)}: ${detail}`);
    }
    if (!isRecord(json)) {
      throw this.error(`Prometheus at ${this.baseUrl} answered ${showQuery(query)} with a body that is not JSON`);
    }
    if (json.status !== 'success') {
      const detail = prometheusError(json) ?? `status ${JSON.stringify(json.status)}`;
      throw this.error(`Prometheus at ${this.baseUrl} failed ${showQuery(query)}: ${detail}`);
    }
    return this.readResult(query, json.data);
  }

  private readResult(query: string, data: unknown): number | NoData {
    const resultType = isRecord(data) ? data.resultType : undefined;
    const result = isRecord(data) ? data.result : undefined;
    switch (resultType) {
      case 'vector': {
        if (!Array.isArray(result)) break;
        if (result.length === 0) return NO_DATA;
        if (result.length > 1) {
          throw this.error(`query returned ${result.length} series, expected 1: ${showQuery(query)}`);
        }
        return this.readSample(query, isRecord(result[0]) ? result[0].value : undefined);
      }
      case 'scalar':
        return this.readSample(query, result);
      case 'matrix':
        throw this.error(`query returned a range vector, expected one instant value: ${showQuery(query)}`);
      case 'string':
        throw this.error(`query returned a string, expected a number: ${showQuery(query)}`);
    }
    throw this.error(`query returned an unexpected result (${JSON.stringify(resultType ?? null)}): ${showQuery(query)}`);
  }

  /** A sample is `[unixSeconds, "value"]`; Prometheus writes the non-finite values as NaN, +Inf and -Inf. */
  private readSample(query: string, sample: unknown): number | NoData {
    const text = Array.isArray(sample) ? sample[1] : undefined;
    if (typeof text !== 'string') {
      throw this.error(`query returned a sample without a value: ${showQuery(query)}`);
    }
    if (/^(NaN|[+-]?Inf)$/.test(text)) return NO_DATA;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      throw this.error(`query returned a sample that is not a number (${JSON.stringify(text)}): ${showQuery(query)}`);
    }
    return value;
  }

  private async get(url: URL): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs) });
      // The timeout covers reading the body too: a server can stall after its headers.
      return { status: response.status, body: await response.text() };
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw this.error(`Prometheus at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`);
      }
      throw this.error(`Prometheus at ${this.baseUrl} is unreachable: ${networkErrorCode(error)}`);
    }
  }

  private error(message: string): MetricProviderError {
    return new MetricProviderError(this.scrub(message));
  }

  private scrub(message: string): string {
    return this.secrets.filter((secret) => secret !== '').reduce((text, secret) => text.split(secret).join('***'), message);
  }
}

function showQuery(query: string): string {
  const oneLine = query.replace(/\s+/g, ' ').trim();
  return oneLine.length > QUERY_SHOWN_CHARS ? `${oneLine.slice(0, QUERY_SHOWN_CHARS)}…` : oneLine;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function prometheusError(json: unknown): string | undefined {
  if (!isRecord(json) || typeof json.error !== 'string') return undefined;
  return typeof json.errorType === 'string' ? `${json.errorType}: ${json.error}` : json.error;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
