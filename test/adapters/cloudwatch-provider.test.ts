// CloudWatchProvider against moto_server (PutMetricData, then read back), and against a scripted client for what moto never answers.
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { GetMetricDataCommandOutput, MetricDatum } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchMetricData, renameIds } from '../../lambdas/adapters/metrics/cloudwatch-metric-data';
import { CloudWatchProvider, metricDataWindow } from '../../lambdas/adapters/metrics/cloudwatch-provider';
import { MetricProviderError } from '../../lambdas/core/errors';
import type { RolloutPlan, RolloutStatus } from '../../lambdas/core/rollout';
import { metricProviders } from '../../lambdas/handlers/composition';
import { createAnalyzeMetrics } from '../../lambdas/handlers/analyze-metrics';
import type { HandlerDeps } from '../../lambdas/handlers/deps';
import { NO_DATA } from '../../lambdas/ports/metric-provider';
import { MOTO_CREDENTIALS, requireMotoServer, startMotoServer } from '../helpers/moto-server';
import type { MotoServer } from '../helpers/moto-server';
import { recordGetMetricData } from '../helpers/cloudwatch-requests';
import { rejection } from '../helpers/rejection';

const REGION = 'us-east-1';
const MINUTE = 60_000;

/** A MetricDataQuery list as a MetricTemplate's query would render it. */
function sumOf(namespace: string, metricName: string, extra: object[] = [], returnData = true): string {
  const stat = { Id: 'm1', MetricStat: { Metric: { Namespace: namespace, MetricName: metricName }, Period: 60, Stat: 'Sum' }, ...(returnData ? {} : { ReturnData: false }) };
  return JSON.stringify([stat, ...extra]);
}

describe('metricDataWindow', () => {
  it('ends lagSeconds before the analysis, rounded down to the minute, and spans the interval', () => {
    // Act: analysis at 12:03:34, a 2-minute interval, a 60 s lag
    const { start, end } = metricDataWindow({ seconds: 120, end: new Date('2026-01-01T12:03:34Z') }, 60, 60);

    // Assess: 12:02:34 rounds down to 12:02; the last complete minute ends there
    expect([start.toISOString(), end.toISOString()]).toEqual(['2026-01-01T12:00:00.000Z', '2026-01-01T12:02:00.000Z']);
  });

  it('aligns to a high-resolution period, and rounds a window shorter than it up to one period', () => {
    const at = new Date('2026-01-01T12:03:34Z');

    expect(metricDataWindow({ seconds: 30, end: at }, 0, 10)).toEqual({ start: new Date('2026-01-01T12:03:00Z'), end: new Date('2026-01-01T12:03:30Z') });
    expect(metricDataWindow({ seconds: 30, end: at }, 0, 60)).toEqual({ start: new Date('2026-01-01T12:02:00Z'), end: new Date('2026-01-01T12:03:00Z') });
  });
});

describe('renameIds', () => {
  const ids = new Set(['m1', 'e5xx', 'req']);

  it('prefixes the Ids a metric math expression refers to, and nothing else', () => {
    expect(renameIds('IF(req > 0, FILL(e5xx, 0) / req * 100, 0)', ids, 't1_')).toBe('IF(t1_req > 0, FILL(t1_e5xx, 0) / t1_req * 100, 0)');
  });

  it('leaves quoted text, function names, other names and numbers alone', () => {
    expect(renameIds(`SEARCH('{AWS/ELB} m1 req', 'Sum', 60) + m1 * 1e5 + m10 + req2`, ids, 't0_')).toBe(
      `SEARCH('{AWS/ELB} m1 req', 'Sum', 60) + t0_m1 * 1e5 + m10 + req2`,
    );
  });
});

describe.skipIf(requireMotoServer().skip)('CloudWatchProvider against moto_server', () => {
  let moto: MotoServer;
  let writer: CloudWatchClient;
  let reader: CloudWatchClient;
  let sent: Record<string, any>[];
  let metricData: CloudWatchMetricData;
  /** The analysis time: 10 s into a minute, so the 60 s lag ends the window a whole minute back. */
  let now: Date;
  let namespace: string;
  let tests = 0;

  const at = (secondsBeforeNow: number) => new Date(now.getTime() - secondsBeforeNow * 1000);
  const put = (metricName: string, points: [secondsBeforeNow: number, value: number][]) =>
    writer.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: points.map(([ago, value]): MetricDatum => ({ MetricName: metricName, Value: value, Timestamp: at(ago), Unit: 'Count' })),
      }),
    );
  const provider = (options: { lagSeconds?: number; timeoutMs?: number } = {}) =>
    new CloudWatchProvider({ metricData, region: REGION, lagSeconds: options.lagSeconds ?? 60, timeoutMs: options.timeoutMs ?? 5000 });

  beforeAll(async () => {
    moto = await startMotoServer();
    const config = { region: REGION, endpoint: moto.url, credentials: MOTO_CREDENTIALS };
    writer = new CloudWatchClient(config);
    reader = new CloudWatchClient(config);
    sent = recordGetMetricData(reader);
    metricData = new CloudWatchMetricData({ createClient: () => reader });
  });

  afterAll(async () => {
    writer?.destroy();
    reader?.destroy();
    await moto?.stop();
  });

  beforeEach(() => {
    sent.length = 0;
    namespace = `Fledge/Test${++tests}`;
    // Recent data: CloudWatch (and moto) only take PutMetricData within the last two weeks.
    now = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE + 10_000);
  });

  it('reads back the sum of the last complete minute before the lag, leaving out the minute still being published', async () => {
    // Prepare: 3 + 4 in the minute that ends 70 s before the analysis; 100 inside the lag; 1000 before the window
    await put('RequestCount', [[100, 3], [90, 4], [30, 100], [140, 1000]]);

    // Act
    const value = await provider().query(sumOf(namespace, 'RequestCount'), { seconds: 60, end: now });

    // Assess
    expect(value).toBe(7);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ StartTime: at(130).getTime() / 1000, EndTime: at(70).getTime() / 1000, ScanBy: 'TimestampDescending' });
  });

  it('answers the newest datapoint when the window holds several periods, as Flagger does', async () => {
    // Prepare: one datapoint in each of the three minutes of a 3-minute window
    await put('RequestCount', [[220, 1], [160, 2], [100, 5]]);

    // Act
    const value = await provider().query(sumOf(namespace, 'RequestCount'), { seconds: 180, end: now });

    // Assess
    expect(value).toBe(5);
  });

  it('answers no data for a window with no datapoint, even when the metric has data inside the lag', async () => {
    // Prepare
    await put('RequestCount', [[30, 100]]);

    // Act
    const value = await provider().query(sumOf(namespace, 'RequestCount'), { seconds: 60, end: now });

    // Assess
    expect(value).toBe(NO_DATA);
  });

  it('reads the value query an expression names (moto evaluates an expression that is one Id)', async () => {
    // Prepare
    await put('RequestCount', [[100, 8]]);
    const query = sumOf(namespace, 'RequestCount', [{ Id: 'e1', Expression: 'm1', Label: 'requests' }], false);

    // Act
    const value = await provider().query(query, { seconds: 60, end: now });

    // Assess
    expect(value).toBe(8);
  });

  it('sends metric math as the template writes it; moto cannot evaluate it, so only the request is checked', async () => {
    // Prepare
    await put('RequestCount', [[100, 200]]);
    await put('HTTPCode_Target_5XX_Count', [[100, 3]]);
    const expression = 'IF(req > 0, FILL(e5xx, 0) / req * 100, 0)';
    const query = JSON.stringify([
      { Id: 'req', MetricStat: { Metric: { Namespace: namespace, MetricName: 'RequestCount' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
      { Id: 'e5xx', MetricStat: { Metric: { Namespace: namespace, MetricName: 'HTTPCode_Target_5XX_Count' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
      { Id: 'errorRate', Expression: expression },
    ]);

    // Act: moto answers any expression other than a lone Id with an empty series, so the value
    // it yields says nothing about CloudWatch's answer (1.5 there) and is not asserted.
    await provider().query(query, { seconds: 60, end: now });

    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0].MetricDataQueries).toEqual([
      { Id: 'req', MetricStat: { Metric: { Namespace: namespace, MetricName: 'RequestCount' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
      { Id: 'e5xx', MetricStat: { Metric: { Namespace: namespace, MetricName: 'HTTPCode_Target_5XX_Count' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
      { Id: 'errorRate', Expression: expression },
    ]);
    expect(sent[0]).toMatchObject({ StartTime: at(130).getTime() / 1000, EndTime: at(70).getTime() / 1000 });
  });

  it("batches one analysis's metrics over the same window into one call, each template's Ids kept apart", async () => {
    // Prepare: two templates that both call their queries m1 and e1
    await put('RequestCount', [[100, 7]]);
    await put('ErrorCount', [[100, 42]]);
    const requests = sumOf(namespace, 'RequestCount', [{ Id: 'e1', Expression: 'm1' }], false);
    const errors = sumOf(namespace, 'ErrorCount', [{ Id: 'e1', Expression: 'm1' }], false);
    const window = { seconds: 60, end: now };

    // Act: as AnalyzeMetrics asks, every metric in the same turn
    const values = await Promise.all([provider().query(requests, window), provider().query(errors, window)]);

    // Assess
    expect(values).toEqual([7, 42]);
    expect(sent).toHaveLength(1);
    expect(sent[0].MetricDataQueries.map((q: { Id: string; Expression?: string }) => [q.Id, q.Expression])).toEqual([
      ['t0_m1', undefined],
      ['t0_e1', 't0_m1'],
      ['t1_m1', undefined],
      ['t1_e1', 't1_m1'],
    ]);
  });

  it('makes one call per window when the metrics of an analysis have different windows or lags', async () => {
    // Prepare
    await put('RequestCount', [[100, 7]]);
    const query = sumOf(namespace, 'RequestCount');

    // Act
    const values = await Promise.all([
      provider().query(query, { seconds: 60, end: now }),
      provider().query(query, { seconds: 120, end: now }),
      provider({ lagSeconds: 0 }).query(query, { seconds: 60, end: now }),
    ]);

    // Assess: the third window ([now-70 s, now-10 s] rounded) misses the datapoint
    expect(values).toEqual([7, 7, NO_DATA]);
    expect(sent).toHaveLength(3);
  });

  it('AnalyzeMetrics asks CloudWatch once for all its CloudWatch metrics, and records each value', async () => {
    // Prepare: two templates, as a Flagger user writes them, on the canary's own dimension
    const canary = [{ Name: 'Deployment', Value: 'web-canary' }];
    await writer.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: [
          { MetricName: 'Requests', Dimensions: canary, Value: 200, Timestamp: at(100) },
          { MetricName: 'Errors', Dimensions: canary, Value: 3, Timestamp: at(100) },
        ],
      }),
    );
    const template = (metricName: string) =>
      JSON.stringify([
        { Id: 'm1', MetricStat: { Metric: { Namespace: namespace, MetricName: metricName, Dimensions: [{ Name: 'Deployment', Value: '{{ target }}' }] }, Period: 60, Stat: 'Sum' }, ReturnData: false },
        { Id: 'e1', Expression: 'm1' },
      ]);
    const metric = (name: string, metricName: string, max: number) => ({
      name,
      provider: { type: 'cloudwatch' as const, region: REGION, lagSeconds: 60 },
      query: template(metricName),
      thresholdRange: { max },
      interval: '1m',
      intervalSeconds: 60,
      variables: {},
      source: `MetricTemplate prod/${name}`,
    });
    const rollout = {
      canary: 'prod/web',
      execution: 'arn:aws:states:us-east-1:123456789012:execution:fledge:cw',
      target: { namespace: 'prod', deployment: 'web', canaryDeployment: 'web-canary', service: 'web', canaryService: 'web-canary', port: 80, route: 'web' },
      steps: [10, 20],
      threshold: 2,
      counting: 'consecutive',
      metrics: [metric('requests', 'Requests', 1000), metric('errors', 'Errors', 1)],
      webhooks: [],
    } as unknown as RolloutPlan;
    const status: RolloutStatus = { phase: 'Progressing', stepIndex: 0, weight: 10, weights: [10], failedChecks: 0, updatedAt: now.toISOString() };
    const deps = {
      lock: { read: async () => undefined },
      events: { record: async () => {} },
      now: () => now,
      metricProvider: metricProviders(5000, { cloudWatch: metricData }),
    } as unknown as HandlerDeps;

    // Act
    const next = await createAnalyzeMetrics(deps)({ rollout, status });

    // Assess
    expect(sent).toHaveLength(1);
    expect(next.lastAnalysis?.map((record) => [record.metric, record.value, record.verdict])).toEqual([
      ['requests', 200, 'pass'],
      ['errors', 3, 'fail'],
    ]);
  });

  it('checks that CloudWatch answers GetMetricData', async () => {
    await expect(provider().checkOnline()).resolves.toBeUndefined();
    expect(sent).toHaveLength(1);
  });
});

describe('CloudWatchProvider against CloudWatch that does not answer', () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let endpoint: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  function providerAt(url: string, timeoutMs: number): CloudWatchProvider {
    const metricData = new CloudWatchMetricData({ clientConfig: { endpoint: url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 } });
    return new CloudWatchProvider({ metricData, region: REGION, timeoutMs });
  }

  it('fails a query that gets no answer within the timeout, naming the region', async () => {
    // Act
    const started = Date.now();
    const error = await rejection(providerAt(endpoint, 300).query(sumOf('N', 'M'), { seconds: 60, end: new Date() }));

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toBe('CloudWatch in us-east-1: GetMetricData did not answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('fails checkOnline for an endpoint nothing listens on, naming the region and the reason', async () => {
    // Prepare
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));

    // Act
    const error = await rejection(providerAt(url, 2000).checkOnline());

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect(error.message).toMatch(/^CloudWatch in us-east-1 cannot be queried: GetMetricData failed: .*ECONNREFUSED/);
  });

  it('refuses a rendered query that is not a MetricDataQuery list before calling CloudWatch', async () => {
    const error = await rejection(providerAt(endpoint, 300).query('[{"Id": "m1", "Expression": "1", "Period": {{ x }}}]', { seconds: 60, end: new Date() }));

    expect(error.message).toBe('CloudWatch in us-east-1: the rendered query is not a MetricDataQuery list: query: expected a JSON list of CloudWatch MetricDataQuery objects (invalid JSON at line 1, column 45)');
  });
});

/**
 * moto never pages GetMetricData, never sets a StatusCode other than Complete and never adds
 * Messages, so the answers below are scripted, each shaped as CloudWatch documents it.
 */
describe('CloudWatchProvider reading what CloudWatch answers beyond moto', () => {
  type Answer = Partial<GetMetricDataCommandOutput> | Error;

  function scripted(answers: Answer[]): { provider: CloudWatchProvider; inputs: Record<string, any>[] } {
    const inputs: Record<string, any>[] = [];
    const client = {
      send: async (command: { input: Record<string, any> }) => {
        inputs.push(command.input);
        const answer = answers.shift();
        if (answer === undefined) throw new Error('no scripted answer left');
        if (answer instanceof Error) throw answer;
        return answer;
      },
    } as unknown as CloudWatchClient;
    const metricData = new CloudWatchMetricData({ createClient: () => client });
    return { provider: new CloudWatchProvider({ metricData, region: REGION, timeoutMs: 1000 }), inputs };
  }

  const window = { seconds: 300, end: new Date('2026-01-01T12:10:10Z') };
  const minute = (m: number) => new Date(`2026-01-01T12:0${m}:00Z`);

  it('follows NextToken on PartialData and answers the newest datapoint of all pages', async () => {
    // Prepare
    const { provider, inputs } = scripted([
      { MetricDataResults: [{ Id: 'm1', Label: 'L', Values: [4, 3], Timestamps: [minute(8), minute(7)], StatusCode: 'PartialData' }], NextToken: 'page-2' },
      { MetricDataResults: [{ Id: 'm1', Label: 'L', Values: [2, 1], Timestamps: [minute(6), minute(5)], StatusCode: 'Complete' }] },
    ]);

    // Act
    const value = await provider.query(sumOf('N', 'M'), window);

    // Assess
    expect(value).toBe(4);
    expect(inputs.map((input) => input.NextToken)).toEqual([undefined, 'page-2']);
  });

  it('fails on a result CloudWatch marks InternalError, with its messages', async () => {
    const { provider } = scripted([
      { MetricDataResults: [{ Id: 'm1', Values: [], Timestamps: [], StatusCode: 'InternalError', Messages: [{ Code: 'InternalError', Value: 'try again' }] }] },
    ]);

    const error = await rejection(provider.query(sumOf('N', 'M'), window));

    expect(error.message).toBe('CloudWatch in us-east-1: query m1 over 2026-01-01T12:04:00.000Z–2026-01-01T12:09:00.000Z answered InternalError: InternalError: try again');
  });

  it('fails, rather than answering no data, when CloudWatch says why a result is empty', async () => {
    const { provider } = scripted([
      {
        MetricDataResults: [{ Id: 'm1', Values: [], Timestamps: [], StatusCode: 'Complete', Messages: [{ Code: 'ArithmeticError', Value: 'division by zero' }] }],
        Messages: [{ Code: 'MaxQueryTimeRangeExceed', Value: 'narrower please' }],
      },
    ]);

    const error = await rejection(provider.query(sumOf('N', 'M'), window));

    expect(error.message).toBe(
      'CloudWatch in us-east-1: query m1 over 2026-01-01T12:04:00.000Z–2026-01-01T12:09:00.000Z returned no data: MaxQueryTimeRangeExceed: narrower please; ArithmeticError: division by zero',
    );
  });

  it('refuses a value query that returns several time series (a SEARCH), naming them, rather than picking one', async () => {
    const { provider } = scripted([
      {
        MetricDataResults: [
          { Id: 'm1', Label: 'web-a', Values: [1], Timestamps: [minute(8)], StatusCode: 'Complete' },
          { Id: 'm1', Label: 'web-b', Values: [9], Timestamps: [minute(8)], StatusCode: 'Complete' },
        ],
      },
    ]);

    const error = await rejection(provider.query(sumOf('N', 'M'), window));

    expect(error.message).toBe('CloudWatch in us-east-1: query m1 over 2026-01-01T12:04:00.000Z–2026-01-01T12:09:00.000Z returned 2 time series ("web-a", "web-b"), expected 1');
  });

  it('retries a batch CloudWatch refused as invalid one template at a time, so the error lands on the template at fault', async () => {
    // Prepare
    const invalid = Object.assign(new Error('Unrecognized token in expression e1'), { name: 'ValidationError' });
    const { provider, inputs } = scripted([
      invalid,
      invalid,
      { MetricDataResults: [{ Id: 'm1', Values: [5], Timestamps: [minute(8)], StatusCode: 'Complete' }] },
    ]);
    const broken = sumOf('N', 'M', [{ Id: 'e1', Expression: 'm1 +* 2' }], false);

    // Act
    const [bad, good] = await Promise.allSettled([provider.query(broken, window), provider.query(sumOf('N', 'M'), window)]);

    // Assess
    expect(inputs).toHaveLength(3);
    expect(bad).toEqual({ status: 'rejected', reason: expect.objectContaining({ message: 'CloudWatch in us-east-1: GetMetricData failed: ValidationError: Unrecognized token in expression e1' }) });
    expect(good).toEqual({ status: 'fulfilled', value: 5 });
  });

  it('never batches a query whose METRICS() would see the other templates\' queries', async () => {
    const { provider, inputs } = scripted([
      { MetricDataResults: [{ Id: 'e1', Values: [1], Timestamps: [minute(8)], StatusCode: 'Complete' }] },
      { MetricDataResults: [{ Id: 'm1', Values: [2], Timestamps: [minute(8)], StatusCode: 'Complete' }] },
    ]);
    const sumOfAll = sumOf('N', 'M', [{ Id: 'e1', Expression: 'SUM(METRICS())' }], false);

    const values = await Promise.all([provider.query(sumOfAll, window), provider.query(sumOf('N', 'M'), window)]);

    expect(values).toEqual([1, 2]);
    expect(inputs.map((input) => input.MetricDataQueries.map((q: { Id: string }) => q.Id))).toEqual([['m1', 'e1'], ['m1']]);
  });
});
