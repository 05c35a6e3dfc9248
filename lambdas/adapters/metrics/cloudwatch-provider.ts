// CloudWatch metric provider: runs a MetricTemplate's MetricDataQuery list with GetMetricData and answers its value query's newest datapoint.
import { alignmentSeconds, parseCloudWatchQuery } from '../../core/cloudwatch-query';
import { ConfigurationError, MetricProviderError } from '../../core/errors';
import { DEFAULT_CLOUDWATCH_LAG_SECONDS } from '../../core/spec';
import { NO_DATA } from '../../ports/metric-provider';
import type { MetricProvider, NoData, QueryWindow } from '../../ports/metric-provider';
import type { CloudWatchMetricData, MetricDataAnswer } from './cloudwatch-metric-data';

export interface CloudWatchProviderOptions {
  /** The GetMetricData layer shared by the container's CloudWatch providers (it batches their calls). */
  readonly metricData: CloudWatchMetricData;
  /** @default - the deployment's region (AWS_REGION) */
  readonly region?: string;
  /**
   * How far before the analysis time the window ends, for CloudWatch's publication lag.
   * @default DEFAULT_CLOUDWATCH_LAG_SECONDS (60)
   */
  readonly lagSeconds?: number;
  /** Time allowed for one query. @default 5000 */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const LABELS_SHOWN = 3;

/**
 * The window GetMetricData is asked for: `seconds` long, ending `lagSeconds` before the
 * analysis time, both ends rounded down to whole periods (`alignSeconds`, at most a minute).
 * CloudWatch rounds StartTime down to the minute itself, and a window ending mid-minute would
 * hold a datapoint for the whole minute, partly in the future: the newest datapoint must be complete.
 */
export function metricDataWindow(window: QueryWindow, lagSeconds: number, alignSeconds: number): { start: Date; end: Date } {
  const align = alignSeconds * 1000;
  const endMs = Math.floor((window.end.getTime() - lagSeconds * 1000) / align) * align;
  const startMs = Math.floor((endMs - window.seconds * 1000) / align) * align;
  return { start: new Date(startMs), end: new Date(endMs) };
}

export class CloudWatchProvider implements MetricProvider {
  private readonly region?: string;
  private readonly lagSeconds: number;
  private readonly timeoutMs: number;
  private readonly where: string;

  constructor(private readonly options: CloudWatchProviderOptions) {
    this.region = options.region;
    this.lagSeconds = options.lagSeconds ?? DEFAULT_CLOUDWATCH_LAG_SECONDS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.lagSeconds) || this.lagSeconds < 0) {
      throw new ConfigurationError(`CloudWatch lagSeconds must be whole seconds >= 0, got ${options.lagSeconds}`);
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`CloudWatch timeoutMs must be a positive number, got ${options.timeoutMs}`);
    }
    this.where = `CloudWatch in ${this.region ?? 'the default region'}`;
  }

  async query(renderedQuery: string, window: QueryWindow): Promise<number | NoData> {
    if (!Number.isFinite(window.end.getTime()) || !(window.seconds > 0)) {
      throw new MetricProviderError(`query window is not valid: ${window.seconds} s ending ${String(window.end)}`);
    }
    const parsed = parseCloudWatchQuery(renderedQuery, 'query');
    if (!parsed.ok) {
      throw new MetricProviderError(`${this.where}: the rendered query is not a MetricDataQuery list: ${parsed.issues.join('; ')}`);
    }
    const { start, end } = metricDataWindow(window, this.lagSeconds, alignmentSeconds(parsed.query));
    let answer: MetricDataAnswer;
    try {
      // Asked before any await: the metrics of one analysis reach the batching layer in the same turn.
      answer = await this.options.metricData.fetch({ region: this.region, query: parsed.query, start, end, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw new MetricProviderError(`${this.where}: ${(error as Error)?.message ?? String(error)}`);
    }
    return this.valueOf(parsed.query.valueId, answer, start, end);
  }

  async checkOnline(): Promise<void> {
    try {
      await this.options.metricData.checkOnline(this.region, this.timeoutMs);
    } catch (error) {
      throw new MetricProviderError(`${this.where} cannot be queried: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The newest datapoint of the one series, as Flagger takes the first value in CloudWatch's newest-first order. */
  private valueOf(id: string, answer: MetricDataAnswer, start: Date, end: Date): number | NoData {
    const about = `query ${id} over ${start.toISOString()}–${end.toISOString()}`;
    const told = answer.messages.length > 0 ? `: ${answer.messages.join('; ')}` : '';
    if (answer.series.length === 0) throw new MetricProviderError(`${this.where} returned no result for ${about}${told}`);
    if (answer.series.length > 1) {
      const labels = answer.series.slice(0, LABELS_SHOWN).map((series) => JSON.stringify(series.label ?? ''));
      const more = answer.series.length > LABELS_SHOWN ? ', …' : '';
      throw new MetricProviderError(`${this.where}: ${about} returned ${answer.series.length} time series (${labels.join(', ')}${more}), expected 1`);
    }
    const [series] = answer.series;
    if (series.statusCode !== undefined && series.statusCode !== 'Complete') {
      throw new MetricProviderError(`${this.where}: ${about} answered ${series.statusCode}${told}`);
    }
    if (series.values.length === 0) {
      // No datapoint with a message is CloudWatch saying why; without one it is no traffic, or no metric.
      if (answer.messages.length > 0) throw new MetricProviderError(`${this.where}: ${about} returned no data${told}`);
      return NO_DATA;
    }
    let newest = 0;
    series.timestamps.forEach((time, i) => {
      if (time.getTime() > series.timestamps[newest].getTime()) newest = i;
    });
    const value = series.values[newest];
    return typeof value === 'number' && Number.isFinite(value) ? value : NO_DATA;
  }
}
