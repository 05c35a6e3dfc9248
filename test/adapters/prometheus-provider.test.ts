// PrometheusProvider against a real Prometheus scraping a local exporter, and against servers that misbehave.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricProviderError } from '../../lambdas/core/errors';
import { PrometheusProvider } from '../../lambdas/adapters/metrics/prometheus-provider';
import { NO_DATA } from '../../lambdas/ports/metric-provider';
import type { QueryWindow } from '../../lambdas/ports/metric-provider';
import { prometheusBinary, startPrometheus } from '../../local/prometheus-server';
import type { RunningPrometheus } from '../../local/prometheus-server';
import { requireTool } from '../helpers/require-tool';
import { rejection } from '../helpers/rejection';

const { skip } = requireTool('prometheus', prometheusBinary() !== undefined);

const now = (): QueryWindow => ({ seconds: 5, end: new Date() });

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closedPort(): Promise<string> {
  const server = createTcpServer();
  const hostPort = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return `http://${hostPort}`;
}

/**
 * One pod's /metrics. Counters grow linearly with wall time, so rate() is exactly the
 * configured per-second rate whenever the scrapes happen to land.
 */
function podExporter(requestsPerSecond: { ok: number; error: number }): Server {
  const started = Date.now();
  // Each second: 50 requests up to 50 ms, 30 up to 100 ms, 10 up to 250 ms, 10 up to 500 ms.
  const cumulativePerSecond: [string, number][] = [['0.05', 50], ['0.1', 80], ['0.25', 90], ['0.5', 100], ['1', 100], ['+Inf', 100]];
  return createHttpServer((_request, response) => {
    const seconds = (Date.now() - started) / 1000;
    const lines = [
      '# TYPE http_requests_total counter',
      `http_requests_total{status="200"} ${requestsPerSecond.ok * seconds}`,
      `http_requests_total{status="500"} ${requestsPerSecond.error * seconds}`,
      '# TYPE http_request_duration_seconds histogram',
      ...cumulativePerSecond.map(([le, count]) => `http_request_duration_seconds_bucket{le="${le}"} ${count * seconds}`),
      `http_request_duration_seconds_sum ${12 * seconds}`,
      `http_request_duration_seconds_count ${100 * seconds}`,
    ];
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(`${lines.join('\n')}\n`);
  });
}

describe.skipIf(skip)('PrometheusProvider against a real Prometheus', () => {
  const exporters = [podExporter({ ok: 18, error: 2 }), podExporter({ ok: 20, error: 0 })];
  let prometheus: RunningPrometheus;
  let provider: PrometheusProvider;

  beforeAll(async () => {
    const [podA, podB] = await Promise.all(exporters.map(listen));
    prometheus = await startPrometheus({
      scrapeIntervalSeconds: 1,
      fileSdTargets: true,
      staticTargets: [{ targets: [podA], labels: { pod: 'podinfo-a', namespace: 'test' } }],
    });
    await prometheus.setTargets([{ targets: [podB], labels: { pod: 'podinfo-b', namespace: 'test' } }]);
    provider = new PrometheusProvider({ address: prometheus.url });
    await prometheus.waitForTargetsUp(2, 25_000);
    // rate() extrapolates a series to the window edges only once its samples span the whole
    // window; until then a pod scraped later weighs less and the success rate is skewed.
    // So wait for 5 s of samples of every series: 2 pods x 2 statuses, 2 pods x 6 buckets.
    await prometheus.waitForSeries('count(count_over_time(http_requests_total[7s]) >= 6) == 4', 15_000);
    await prometheus.waitForSeries('count(count_over_time(http_request_duration_seconds_bucket[7s]) >= 6) == 12', 5_000);
  });

  afterAll(async () => {
    await prometheus?.close();
    await Promise.all(exporters.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('returns the request success rate across both pods', async () => {
    // Prepare
    const query =
      '100 * sum(rate(http_requests_total{namespace="test",status!~"5.."}[5s])) / sum(rate(http_requests_total{namespace="test"}[5s]))';

    // Act
    const value = await provider.query(query, now());

    // Assess: (18 + 20) ok of (20 + 20) requests per second
    expect(value).toBeCloseTo(95, 0);
  });

  it('returns a histogram p95 in milliseconds inside the bucket that holds it', async () => {
    // Prepare
    const query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="test"}[5s]))) * 1000';

    // Act
    const value = await provider.query(query, now());

    // Assess: 90% of requests are under 250 ms and all under 500 ms; interpolation gives 375
    expect(value).toBeGreaterThan(250);
    expect(value).toBeLessThan(500);
    expect(value).toBeCloseTo(375, -1);
  });

  it('answers no data for a query that matches no series', async () => {
    const value = await provider.query('sum(rate(http_requests_total{status="404"}[5s]))', now());

    expect(value).toBe(NO_DATA);
  });

  it('answers no data for 0/0 from a pod that served no errors', async () => {
    const errors = 'sum(rate(http_requests_total{pod="podinfo-b",status="500"}[5s]))';

    const value = await provider.query(`${errors} / ${errors}`, now());

    expect(value).toBe(NO_DATA);
  });

  it('returns a scalar result, and no data for a NaN scalar', async () => {
    expect(await provider.query('scalar(count(up))', now())).toBe(2);
    expect(await provider.query('0 / 0', now())).toBe(NO_DATA);
  });

  it('rejects a result with one series per pod, naming the query and the count', async () => {
    // Prepare
    const query = 'sum by (pod) (rate(http_requests_total[5s]))';

    // Act
    const error = await rejection(provider.query(query, now()));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`query returned 2 series, expected 1: ${query}`);
  });

  it('truncates a long query in its error message', async () => {
    const query = `sum by (pod) (rate(http_requests_total{status!~"${'x|'.repeat(150)}y"}[5s]))`;

    const error = await rejection(provider.query(query, now()));

    expect(error.message).toContain('query returned 2 series, expected 1: sum by (pod)');
    expect(error.message.length).toBeLessThan(260);
    expect(error.message.endsWith('…')).toBe(true);
  });

  it('rejects range vectors and strings, which are not one number', async () => {
    await expect(provider.query('http_requests_total[5s]', now())).rejects.toThrow(/range vector.*http_requests_total\[5s\]/);
    await expect(provider.query('"five"', now())).rejects.toThrow(/string, expected a number/);
  });

  it('reports a malformed query with the HTTP status and Prometheus\'s own error', async () => {
    const error = await rejection(provider.query('sum(rate(http_requests_total[5s])', now()));

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toMatch(/answered HTTP 400 to sum\(rate\(http_requests_total\[5s\]\): bad_data: .*parse error/);
  });

  it('evaluates at the window end, not at the time of the call', async () => {
    // Prepare: a window that ended before Prometheus started has no samples yet
    const window = { seconds: 5, end: new Date(Date.now() - 3_600_000) };

    // Act
    const value = await provider.query('sum(http_requests_total)', window);

    // Assess
    expect(value).toBe(NO_DATA);
  });

  it('is online when Prometheus answers vector(1)', async () => {
    await expect(provider.checkOnline()).resolves.toBeUndefined();
  });
});

describe('PrometheusProvider against servers that do not answer properly', () => {
  const sockets = new Set<Socket>();
  const silent = createTcpServer((socket) => sockets.add(socket));
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const strict = createHttpServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    // Some proxies echo what they were sent; the provider must still keep secrets out of errors.
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: 'error', errorType: 'unauthorized', error: `rejected ${request.headers.authorization}` }));
  });
  let silentUrl: string;
  let strictUrl: string;

  beforeAll(async () => {
    silentUrl = `http://${await listen(silent)}`;
    strictUrl = `http://${await listen(strict)}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([silent, strict].map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('gives up on a server that accepts the connection and never answers', async () => {
    // Prepare
    const provider = new PrometheusProvider({ address: silentUrl, timeoutMs: 300 });

    // Act
    const error = await rejection(provider.query('up', now()));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`Prometheus at ${silentUrl} did not answer within 300 ms`);
  });

  it('reports a server that is down as unreachable', async () => {
    // Prepare
    const address = await closedPort();
    const provider = new PrometheusProvider({ address });

    // Act
    const error = await rejection(provider.query('up', now()));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe(`Prometheus at ${address} is unreachable: ECONNREFUSED`);
  });

  it('is not online when nothing listens at the address', async () => {
    const address = await closedPort();

    const error = await rejection(new PrometheusProvider({ address }).checkOnline());

    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toContain('is unreachable');
  });

  it('sends the bearer token, the query time and a timeout, and keeps the token out of errors', async () => {
    // Prepare
    const provider = new PrometheusProvider({
      address: `${strictUrl}/workspaces/ws-1/`,
      bearerToken: 's3cr3t-token',
      headers: { 'X-Scope-OrgID': 'team-a' },
    });
    const end = new Date('2026-01-02T03:04:05.678Z');
    requests.length = 0;

    // Act
    const error = await rejection(provider.query('up', { seconds: 60, end }));

    // Assess
    const sent = requests[0];
    const params = new URL(sent.url, strictUrl).searchParams;
    expect(new URL(sent.url, strictUrl).pathname).toBe('/workspaces/ws-1/api/v1/query');
    expect(sent.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(sent.headers['x-scope-orgid']).toBe('team-a');
    expect(params.get('query')).toBe('up');
    expect(params.get('time')).toBe('1767323045.678');
    expect(params.get('timeout')).toBe('5000ms');
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toContain('answered HTTP 401 to up: unauthorized: rejected Bearer ***');
    expect(error.message).not.toContain('s3cr3t-token');
  });

  it('sends basic auth and keeps the password out of errors', async () => {
    // Prepare
    const provider = new PrometheusProvider({ address: strictUrl, basicAuth: { username: 'fledge', password: 'hunter2-pw' } });
    requests.length = 0;

    // Act
    const error = await rejection(provider.checkOnline());

    // Assess
    const [user, password] = Buffer.from(requests[0].headers.authorization!.replace(/^Basic /, ''), 'base64').toString().split(':');
    expect([user, password]).toEqual(['fledge', 'hunter2-pw']);
    expect(requests[0].url).toContain('query=vector%281%29');
    expect(error.message).toContain('HTTP 401');
    expect(error.message).not.toContain('hunter2-pw');
    expect(error.message).not.toContain(requests[0].headers.authorization!.replace(/^Basic /, ''));
  });
});
