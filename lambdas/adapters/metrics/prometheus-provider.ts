// Prometheus metric provider: runs one instant PromQL query and answers its single value, or no data.
// Authenticates with nothing, a bearer token or basic auth (given, or read from Secrets Manager), or SigV4 (Amazon Managed Prometheus).
import { ConfigurationError, MetricProviderError } from '../../core/errors';
import { showValue } from '../../core/show-value';
import { NO_DATA } from '../../ports/metric-provider';
import type { SecretStore } from '../../ports/secrets';
import { networkErrorCode } from '../network-error';
import { AMP_SERVICE, queryString, signRequest } from './sigv4';
import type { AwsCredentials, AwsCredentialsProvider } from './sigv4';
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
  /**
   * A Secrets Manager secret holding `{"token": …}` (bearer) or `{"username": …, "password": …}`
   * (basic), as Flagger's Kubernetes secret holds them; `token` wins when both are there. Read
   * at query time through `store` (which may cache it), never kept in a plan or shown in a message.
   * @default - no secret
   */
  readonly secret?: { readonly name: string; readonly store: SecretStore };
  /**
   * Sign every request with SigV4, as Amazon Managed Service for Prometheus requires.
   * @default - not signed
   */
  readonly sigv4?: {
    readonly region: string;
    readonly credentials: AwsCredentialsProvider;
    /** @default 'aps' */
    readonly service?: string;
  };
}

const DEFAULT_TIMEOUT_MS = 5000;
const QUERY_SHOWN_CHARS = 200;

export class PrometheusProvider implements MetricProvider {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  /** Every secret this provider holds, scrubbed from any message it builds. */
  private readonly secrets: string[] = [];
  private readonly secret?: PrometheusProviderOptions['secret'];
  private readonly sigv4?: PrometheusProviderOptions['sigv4'];
  /** The Authorization header made from the secret last read, to tell whether a fresh read changed it. */
  private secretAuthorization?: string;

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
    const schemes = [
      options.bearerToken !== undefined && 'bearerToken',
      options.basicAuth !== undefined && 'basicAuth',
      options.secret !== undefined && 'secret',
      options.sigv4 !== undefined && 'sigv4',
    ].filter((scheme) => scheme !== false);
    if (schemes.length > 1) {
      throw new ConfigurationError(`Prometheus takes one of bearerToken, basicAuth, secret and sigv4, got ${schemes.join(' and ')}`);
    }
    if ((options.secret || options.sigv4) && (url.username !== '' || url.password !== '')) {
      throw new ConfigurationError(`Prometheus address carries credentials, and ${schemes[0]} is set too`);
    }
    this.secret = options.secret;
    this.sigv4 = options.sigv4;

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
    // Prometheus stops evaluating at its own timeout too, instead of working on for nobody.
    const params: [string, string][] = [['query', query], ...(time === undefined ? [] : [['time', time] as [string, string]]), ['timeout', `${this.timeoutMs}ms`]];
    // Escaped as SigV4 signs it (a space as %20): Prometheus reads it the same, and a signature matches it.
    url.search = queryString(params);

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
    // One deadline for reading the secret or credentials, signing, and the request itself.
    const signal = AbortSignal.timeout(this.timeoutMs);
    const answer = await this.send(url, signal, await this.authHeaders(url, signal));
    if ((answer.status === 401 || answer.status === 403) && this.secret) {
      // The secret may have been rotated since it was cached: read it again, and retry once if it changed.
      const before = this.secretAuthorization;
      this.secret.store.forget(this.secret.name);
      const headers = await this.authHeaders(url, signal);
      if (this.secretAuthorization !== before) return this.send(url, signal, headers);
    }
    return answer;
  }

  private async send(url: URL, signal: AbortSignal, auth: Record<string, string>): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(url, { headers: { ...this.headers, ...auth }, signal });
      // The timeout covers reading the body too: a server can stall after its headers.
      return { status: response.status, body: await response.text() };
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw this.error(`Prometheus at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`);
      }
      throw this.error(`Prometheus at ${this.baseUrl} is unreachable: ${networkErrorCode(error)}`);
    }
  }

  /** Headers that authenticate one request: read per request, as a secret may rotate and a signature covers one request. */
  private async authHeaders(url: URL, signal: AbortSignal): Promise<Record<string, string>> {
    if (this.secret) {
      this.secretAuthorization = await this.withDeadline(signal, this.readSecret(this.secret), 'reading its Secrets Manager secret');
      return { authorization: this.secretAuthorization };
    }
    if (this.sigv4) {
      const { region, service } = this.sigv4;
      let credentials: AwsCredentials;
      try {
        credentials = await this.withDeadline(signal, this.sigv4.credentials(), 'resolving AWS credentials');
      } catch (error) {
        if (error instanceof MetricProviderError) throw error;
        // The provider chain's message lists the sources it tried; it carries no secret.
        throw this.error(`Prometheus at ${this.baseUrl}: no AWS credentials to sign with SigV4 (${(error as Error)?.message ?? String(error)})`);
      }
      this.keepSecret(credentials.secretAccessKey, credentials.sessionToken);
      return signRequest({ method: 'GET', url }, { service: service ?? AMP_SERVICE, region, credentials });
    }
    return {};
  }

  /** The secret's value as an Authorization header value; its parts join the values scrubbed from messages. */
  private async readSecret(secret: NonNullable<PrometheusProviderOptions['secret']>): Promise<string> {
    let text: string;
    try {
      text = await secret.store.secretString(secret.name);
    } catch (error) {
      throw this.error(`Prometheus at ${this.baseUrl}: ${(error as Error)?.message ?? String(error)}`);
    }
    const auth = authFromSecret(text);
    if (auth.kind === 'invalid') {
      throw this.error(`Prometheus at ${this.baseUrl}: Secrets Manager secret ${JSON.stringify(secret.name)} ${auth.reason}`);
    }
    this.keepSecret(...auth.secrets);
    return auth.authorization;
  }

  /** Values to scrub from every message this provider builds. */
  private keepSecret(...values: (string | undefined)[]): void {
    for (const value of values) {
      if (value && !this.secrets.includes(value)) this.secrets.push(value);
    }
  }

  private async withDeadline<T>(signal: AbortSignal, work: Promise<T>, what: string): Promise<T> {
    if (signal.aborted) throw this.error(`Prometheus at ${this.baseUrl} did not answer within ${this.timeoutMs} ms (${what})`);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(this.error(`Prometheus at ${this.baseUrl} did not answer within ${this.timeoutMs} ms (${what})`));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  private error(message: string): MetricProviderError {
    return new MetricProviderError(this.scrub(message));
  }

  private scrub(message: string): string {
    return this.secrets.filter((secret) => secret !== '').reduce((text, secret) => text.split(secret).join('***'), message);
  }
}

/**
 * Credentials from a secret's JSON, read as Flagger reads its Kubernetes secret's keys: `token`
 * (bearer) when present, else `username` and `password` (basic). A reason never shows a value.
 */
function authFromSecret(
  text: string,
): { kind: 'header'; authorization: string; secrets: string[] } | { kind: 'invalid'; reason: string } {
  const json = parseJson(text);
  const expected = 'expected a JSON object with "token", or "username" and "password"';
  if (!isRecord(json)) return { kind: 'invalid', reason: `is not a JSON object; ${expected}` };
  const given = (key: string) => (typeof json[key] === 'string' && json[key] !== '' ? (json[key] as string) : undefined);
  const token = given('token');
  if (token !== undefined) return { kind: 'header', authorization: `Bearer ${token}`, secrets: [token] };
  const username = given('username');
  const password = given('password');
  if (username !== undefined && password !== undefined) {
    const encoded = Buffer.from(`${username}:${password}`).toString('base64');
    return { kind: 'header', authorization: `Basic ${encoded}`, secrets: [password, encoded] };
  }
  const keys = Object.keys(json).map((key) => JSON.stringify(key)).join(', ') || 'none';
  return { kind: 'invalid', reason: `has keys ${keys}; ${expected} (non-empty strings)` };
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
