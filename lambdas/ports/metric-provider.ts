// Port: a metrics backend answers one rendered query with a number, or says it has no data.
export const NO_DATA = Symbol.for('fledge.no-data');
export type NoData = typeof NO_DATA;

export interface QueryWindow {
  /** Analysis window length in seconds (the metric's interval). */
  readonly seconds: number;
  /** Window end (the analysis time). */
  readonly end: Date;
}

export interface MetricProvider {
  /**
   * Run one rendered query. Returns a finite number, or NO_DATA when the backend has no
   * sample for it (empty result, NaN, ±Inf). Throws MetricProviderError when the backend
   * errors, times out or answers something that is not one number.
   */
  query(renderedQuery: string, window: QueryWindow): Promise<number | NoData>;
  /** Throws MetricProviderError naming the backend when it cannot answer. */
  checkOnline(): Promise<void>;
}
