// WebProvider against local HTTP servers: values at a JSON path, no data, and every way an endpoint can fail.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, MetricProviderError } from '../../lambdas/core/errors';
import { WebProvider } from '../../lambdas/adapters/metrics/web-provider';
import { NO_DATA } from '../../lambdas/ports/metric-provider';
import type { QueryWindow } from '../../lambdas/ports/metric-provider';
import { rejection } from '../helpers/rejection';

const window: QueryWindow = { seconds: 60, end: new Date('2026-01-02T03:04:05Z') };

/** What the metrics server answers, by path. */
const routes: Record<string, [status: number, body: string]> = {
  '/api/number': [200, JSON.stringify({ data: { value: 42.5 } })],
  '/api/numeric-string': [200, JSON.stringify({ data: { value: ' 12.25 ' } })],
  '/api/null': [200, JSON.stringify({ data: { value: null } })],
  '/api/missing': [200, JSON.stringify({ data: {} })],
  '/api/nan': [200, JSON.stringify({ data: { value: 'NaN' } })],
  '/api/object': [200, JSON.stringify({ data: { value: { p95: 3 } } })],
  '/api/boolean': [200, JSON.stringify({ data: { value: true } })],
  '/api/word': [200, JSON.stringify({ data: { value: 'healthy' } })],
  '/api/unavailable': [503, 'upstream connect error'],
  '/api/html': [200, '<html><body>Sign in</body></html>'],
  '/api/echo-key': [403, JSON.stringify({ message: 'key s3cr3t-key is not allowed' })],
};

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('WebProvider', () => {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const metrics = createHttpServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    const [status, body] = routes[new URL(request.url ?? '/', 'http://x').pathname] ?? [404, 'not found'];
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(body);
  });
  const broken = createHttpServer((_request, response) => {
    response.writeHead(500);
    response.end('internal error');
  });
  const sockets = new Set<Socket>();
  const silent = createTcpServer((socket) => sockets.add(socket));
  let base: string;
  let brokenUrl: string;
  let silentUrl: string;
  let closedUrl: string;

  beforeAll(async () => {
    [base, brokenUrl, silentUrl] = await Promise.all([metrics, broken, silent].map(listen));
    const closed = createTcpServer();
    closedUrl = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([metrics, broken, silent].map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('reads the number at the JSON path from a query relative to the address', async () => {
    // Prepare
    const provider = new WebProvider({ address: `${base}/api/`, jsonPath: '$.data.value' });
    requests.length = 0;

    // Act
    const value = await provider.query('/number?service=podinfo&window=1m', window);

    // Assess
    expect(value).toBe(42.5);
    expect(requests[0].url).toBe('/api/number?service=podinfo&window=1m');
  });

  it('uses an absolute query URL as it is, with no address set', async () => {
    const provider = new WebProvider({ jsonPath: '$.data.value' });

    const value = await provider.query(`  ${base}/api/number\n`, window);

    expect(value).toBe(42.5);
  });

  it('reads a numeric string as a number', async () => {
    const provider = new WebProvider({ address: base, jsonPath: '$.data.value' });

    expect(await provider.query('api/numeric-string', window)).toBe(12.25);
  });

  it.each(['null', 'missing', 'nan'])('answers no data when the value is %s', async (route) => {
    const provider = new WebProvider({ address: base, jsonPath: '$.data.value' });

    expect(await provider.query(`api/${route}`, window)).toBe(NO_DATA);
  });

  it.each([
    ['object', 'an object'],
    ['boolean', 'a boolean (true)'],
    ['word', 'the string "healthy"'],
  ])('rejects a value that is %s, naming the path and what it found', async (route, found) => {
    // Prepare
    const provider = new WebProvider({ address: base, jsonPath: '$.data.value' });

    // Act
    const error = await rejection(provider.query(`api/${route}`, window));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`web metric at ${base}/api/${route}: $.data.value is ${found}, expected a number`);
  });

  it('reports a non-2xx answer with its status and body', async () => {
    const provider = new WebProvider({ address: base, jsonPath: '$.data.value' });

    const error = await rejection(provider.query('api/unavailable', window));

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`web metric at ${base}/api/unavailable answered HTTP 503: upstream connect error`);
  });

  it('reports an answer that is not JSON', async () => {
    const provider = new WebProvider({ address: base, jsonPath: '$.data.value' });

    const error = await rejection(provider.query('api/html', window));

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toContain('answered a body that is not JSON: <html>');
  });

  it('sends its headers and keeps secret ones out of error messages', async () => {
    // Prepare
    const provider = new WebProvider({ address: base, jsonPath: '$.value', headers: { 'X-Api-Key': 's3cr3t-key', 'X-Team': 'payments' } });
    requests.length = 0;

    // Act
    const error = await rejection(provider.query('api/echo-key', window));

    // Assess
    expect(requests[0].headers['x-api-key']).toBe('s3cr3t-key');
    expect(requests[0].headers['x-team']).toBe('payments');
    expect(error.message).toContain('HTTP 403');
    expect(error.message).not.toContain('s3cr3t-key');
  });

  it('sends credentials in the query URL as basic auth and keeps the password out of errors', async () => {
    // Prepare
    const provider = new WebProvider({ jsonPath: '$.data.value' });
    const withCredentials = base.replace('http://', 'http://fledge:pa55word@');
    requests.length = 0;

    // Act
    const error = await rejection(provider.query(`${withCredentials}/api/unavailable`, window));

    // Assess
    expect(requests[0].headers.authorization).toBe(`Basic ${Buffer.from('fledge:pa55word').toString('base64')}`);
    expect(error.message).toBe(`web metric at ${base}/api/unavailable answered HTTP 503: upstream connect error`);
  });

  it('rejects a relative query when no address is set', async () => {
    const provider = new WebProvider({ jsonPath: '$.data.value' });

    await expect(provider.query('api/number', window)).rejects.toThrow(/is not an absolute URL and no address is set/);
  });

  it('gives up on a server that accepts the connection and never answers', async () => {
    const provider = new WebProvider({ address: silentUrl, jsonPath: '$.value', timeoutMs: 300 });

    const error = await rejection(provider.query('metric', window));

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`web metric at ${silentUrl}/metric did not answer within 300 ms`);
  });

  it('reports a server that is down as unreachable', async () => {
    const provider = new WebProvider({ address: closedUrl, jsonPath: '$.value' });

    const error = await rejection(provider.query('metric', window));

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`web metric at ${closedUrl}/metric is unreachable: ECONNREFUSED`);
  });

  it('is online when the address answers, even with a 404', async () => {
    await expect(new WebProvider({ address: base, jsonPath: '$' }).checkOnline()).resolves.toBeUndefined();
  });

  it('has nothing to check without an address', async () => {
    await expect(new WebProvider({ jsonPath: '$' }).checkOnline()).resolves.toBeUndefined();
  });

  it.each([
    ['answers 500', () => brokenUrl, /answered HTTP 500/],
    ['is down', () => closedUrl, /is unreachable: ECONNREFUSED/],
    ['never answers', () => silentUrl, /did not answer within 300 ms/],
  ])('is not online when the address %s', async (_case, address, message) => {
    const provider = new WebProvider({ address: address(), jsonPath: '$', timeoutMs: 300 });

    const error = await rejection(provider.checkOnline());

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toMatch(message);
  });

  it('refuses a malformed JSON path when it is built', () => {
    expect(() => new WebProvider({ address: base, jsonPath: 'data.value' })).toThrow(ConfigurationError);
    expect(() => new WebProvider({ address: base, jsonPath: 'data.value' })).toThrow('invalid JSON path "data.value"');
  });
});
