// Web metric provider: GETs a JSON endpoint (the rendered query is its URL) and reads one number at a JSON path.
import { ConfigurationError, MetricProviderError } from '../../core/errors';
import { showValue } from '../../core/show-value';
import { NO_DATA } from '../../ports/metric-provider';
import { networkErrorCode } from '../network-error';
import type { MetricProvider, NoData, QueryWindow } from '../../ports/metric-provider';
import { parseJsonPath, readJsonPath } from './json-path';
import type { JsonPathSegment } from './json-path';

export interface WebProviderOptions {
  /**
   * Base URL that relative queries are appended to (its path prefix is kept), and what
   * checkOnline probes. @default - queries must be absolute URLs; checkOnline checks nothing
   */
  readonly address?: string;
  /** Where the number is in the answer: `$.data.result[0].value`, `$['p95']`… */
  readonly jsonPath: string;
  /** Time allowed for one request, connection included. @default 5000 */
  readonly timeoutMs?: number;
  /** Request headers, such as an API key. */
  readonly headers?: Readonly<Record<string, string>>;
}

const DEFAULT_TIMEOUT_MS = 5000;
const SHOWN_CHARS = 200;
const SECRET_NAME = /auth|token|key|secret|cookie|pass|sig/i;

/** Where one request goes, with the headers it carries. */
interface Target {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
}

export class WebProvider implements MetricProvider {
  private readonly address: string | undefined;
  private readonly jsonPath: string;
  private readonly segments: readonly JsonPathSegment[];
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  /** Secrets from the headers and URLs, scrubbed from any message this provider builds. */
  private readonly secrets = new Set<string>();

  constructor(options: WebProviderOptions) {
    if (options.address !== undefined) {
      const url = parseHttpUrl(options.address);
      if (url === undefined) {
        throw new ConfigurationError(`web metric address must be an http(s) URL, got ${showValue(options.address)}`);
      }
      this.address = options.address.trim();
      if (url.password !== '') this.secrets.add(url.password).add(decodeURIComponent(url.password));
    }
    try {
      this.segments = parseJsonPath(options.jsonPath);
    } catch (error) {
      throw new ConfigurationError((error as Error).message);
    }
    this.jsonPath = options.jsonPath;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`web metric timeoutMs must be a positive number, got ${options.timeoutMs}`);
    }
    this.headers = { accept: 'application/json' };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      this.headers[name.toLowerCase()] = value;
      if (SECRET_NAME.test(name)) this.secrets.add(value);
    }
  }

  async query(renderedQuery: string, _window: QueryWindow): Promise<number | NoData> {
    const target = this.resolve(renderedQuery);
    const shown = this.show(target);
    const { status, body } = await this.get(target, shown);
    if (status < 200 || status > 299) {
      throw this.error(`web metric at ${shown} answered HTTP ${status}: ${snippet(body)}`);
    }
    let document: unknown;
    try {
      document = JSON.parse(body);
    } catch {
      throw this.error(`web metric at ${shown} answered a body that is not JSON: ${snippet(body)}`);
    }
    return this.toNumber(readJsonPath(document, this.segments), shown);
  }

  async checkOnline(): Promise<void> {
    // Without an address every query names its own URL: there is no one place to probe.
    if (this.address === undefined) return;
    const target = this.withoutCredentials(parseHttpUrl(this.address)!);
    const shown = this.show(target);
    const { status } = await this.get(target, shown);
    // A 401 or 404 on the base URL still proves the server answers; only its own failure does not.
    if (status >= 500) throw this.error(`web metric address ${shown} answered HTTP ${status}`);
  }

  /** A finite number or numeric string is the value; null, missing and NaN are no data. */
  private toNumber(found: unknown, shown: string): number | NoData {
    if (found === undefined || found === null) return NO_DATA;
    if (typeof found === 'number') return Number.isFinite(found) ? found : NO_DATA;
    if (typeof found === 'string') {
      const text = found.trim();
      if (/^(NaN|[+-]?Inf(inity)?)$/i.test(text)) return NO_DATA;
      if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
    }
    throw this.error(`web metric at ${shown}: ${this.jsonPath} is ${describe(found)}, expected a number`);
  }

  /** An absolute URL is used as it is; anything else is appended to the address. */
  private resolve(renderedQuery: string): Target {
    const query = renderedQuery.trim();
    const shown = JSON.stringify(query.slice(0, SHOWN_CHARS));
    let url = parseHttpUrl(query);
    if (url === undefined && /^[a-z][a-z0-9+.-]*:/i.test(query)) {
      throw this.error(`web metric query must be an http(s) URL, got ${shown}`);
    }
    if (url === undefined) {
      if (this.address === undefined) {
        throw this.error(`web metric query ${shown} is not an absolute URL and no address is set`);
      }
      url = parseHttpUrl(`${this.address.replace(/\/+$/, '')}/${query.replace(/^\/+/, '')}`);
      if (url === undefined) {
        throw this.error(`web metric query ${shown} does not make a URL with ${this.address}`);
      }
    }
    return this.withoutCredentials(url);
  }

  /** fetch refuses URLs that carry credentials, so they travel as a basic auth header instead. */
  private withoutCredentials(url: URL): Target {
    for (const [name, value] of url.searchParams) {
      if (SECRET_NAME.test(name) && value !== '') this.secrets.add(value);
    }
    if (url.username === '' && url.password === '') return { url, headers: this.headers };
    const username = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const encoded = Buffer.from(`${username}:${password}`).toString('base64');
    this.secrets.add(password).add(url.password).add(encoded);
    const bare = new URL(url.href);
    bare.username = '';
    bare.password = '';
    return { url: bare, headers: { authorization: `Basic ${encoded}`, ...this.headers } };
  }

  private async get({ url, headers }: Target, shown: string): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      // The timeout covers reading the body too: a server can stall after its headers.
      return { status: response.status, body: await response.text() };
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw this.error(`web metric at ${shown} did not answer within ${this.timeoutMs} ms`);
      }
      throw this.error(`web metric at ${shown} is unreachable: ${networkErrorCode(error)}`);
    }
  }

  private show(target: Target): string {
    return this.scrub(target.url.href);
  }

  private error(message: string): MetricProviderError {
    return new MetricProviderError(this.scrub(message));
  }

  private scrub(message: string): string {
    let text = message;
    for (const secret of this.secrets) if (secret !== '') text = text.split(secret).join('***');
    return text;
  }
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, SHOWN_CHARS))}`;
  return `a ${typeof value} (${String(value)})`;
}

function snippet(body: string): string {
  const oneLine = body.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return 'empty body';
  return oneLine.length > SHOWN_CHARS ? `${oneLine.slice(0, SHOWN_CHARS)}…` : oneLine;
}
