// Metric analysis: a measurement against its thresholdRange, failed-check counting, and the decision with its reason.
import type { ThresholdRange } from './spec';

/** What a provider gave for one metric: a number, no data, or an error (never thrown past the analysis). */
export type Measurement =
  | { readonly kind: 'value'; readonly value: number }
  | { readonly kind: 'no-data' }
  | { readonly kind: 'error'; readonly message: string };

export interface CheckResult {
  readonly metric: string;
  /** The measured value, or null for no data and provider errors. */
  readonly value: number | null;
  readonly min?: number;
  readonly max?: number;
  readonly verdict: 'pass' | 'fail';
  /** Readable: "error-rate 18.7 > max 1", "error-rate: no data". */
  readonly detail: string;
}

export type Decision = 'continue' | 'hold' | 'promote' | 'rollback';
export type Counting = 'consecutive' | 'cumulative';

export interface AnalysisOutcome {
  readonly decision: Decision;
  readonly failedChecks: number;
  readonly reason: string;
}

/** Rounded for reading: 18.666 → 18.7, 643.2 → 643, 0.1234 → 0.12. */
export function formatValue(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

// Rounding must not turn a breach into "error-rate 1 > max 1": then the exact value is shown.
function shownBreach(value: number, bound: number): string {
  const shown = formatValue(value);
  const stillBreaches = value > bound ? Number(shown) > bound : Number(shown) < bound;
  return stillBreaches ? shown : String(value);
}

/**
 * One metric's check. No data and NaN fail (no traffic is not health), as does a provider
 * error; a value outside [min, max] fails; bounds are inclusive.
 */
export function evaluateCheck(metric: string, range: ThresholdRange, measurement: Measurement): CheckResult {
  const bounds = { min: range.min, max: range.max };
  if (measurement.kind === 'error') {
    return { metric, value: null, ...bounds, verdict: 'fail', detail: `${metric}: provider error: ${measurement.message}` };
  }
  if (measurement.kind === 'no-data' || Number.isNaN(measurement.value)) {
    return { metric, value: null, ...bounds, verdict: 'fail', detail: `${metric}: no data` };
  }
  if (!Number.isFinite(measurement.value)) {
    // Not "no data": histogram_quantile gives +Inf when requests are slower than the largest bucket.
    return { metric, value: null, ...bounds, verdict: 'fail', detail: `${metric}: ${measurement.value} is not a finite number` };
  }
  const value = measurement.value;
  const shown = formatValue(value);
  if (range.max !== undefined && value > range.max) {
    return { metric, value, ...bounds, verdict: 'fail', detail: `${metric} ${shownBreach(value, range.max)} > max ${range.max}` };
  }
  if (range.min !== undefined && value < range.min) {
    return { metric, value, ...bounds, verdict: 'fail', detail: `${metric} ${shownBreach(value, range.min)} < min ${range.min}` };
  }
  const within = [range.min !== undefined ? `min ${range.min}` : '', range.max !== undefined ? `max ${range.max}` : '']
    .filter(Boolean)
    .join(', ');
  return { metric, value, ...bounds, verdict: 'pass', detail: `${metric} ${shown} within ${within}` };
}

/** Failed checks after this analysis: consecutive resets on a pass; cumulative (Flagger's) never resets. */
export function countFailedChecks(before: number, failed: boolean, counting: Counting): number {
  if (failed) return before + 1;
  return counting === 'consecutive' ? 0 : before;
}

export interface DecisionInput {
  readonly checks: readonly CheckResult[];
  readonly failedChecksBefore: number;
  readonly threshold: number;
  readonly counting: Counting;
  readonly weight: number;
  readonly isLastStep: boolean;
  /** A Flagger rollback webhook asked for a rollback (rollbackRequest): rolls back whatever the checks say. */
  readonly rollbackRequested?: string;
}

/**
 * The decision after one analysis. Rolls back on the check that reaches the threshold; a
 * failed check below it holds the weight; a pass moves on, or promotes after the last step.
 */
export function decide(input: DecisionInput): AnalysisOutcome {
  const failing = input.checks.filter((check) => check.verdict === 'fail');
  const failed = failing.length > 0;
  const failedChecks = countFailedChecks(input.failedChecksBefore, failed, input.counting);
  const at = `at canary weight ${input.weight}%`;
  if (input.rollbackRequested) return { decision: 'rollback', failedChecks, reason: `${input.rollbackRequested} ${at}` };
  if (failed) {
    const tally = `${failedChecks}/${input.threshold} ${input.counting} failed checks ${at}`;
    const what = failing.map((check) => check.detail).join('; ');
    if (failedChecks >= input.threshold) {
      return { decision: 'rollback', failedChecks, reason: `${what} (${tally})` };
    }
    return { decision: 'hold', failedChecks, reason: `${what} (${tally}); holding the weight` };
  }
  const passed =
    input.checks.length === 0
      ? 'no metrics to check'
      : input.checks.map((check) => check.detail).join('; ');
  if (input.isLastStep) {
    return { decision: 'promote', failedChecks, reason: `${passed} ${at}, the last step: promoting` };
  }
  return { decision: 'continue', failedChecks, reason: `${passed} ${at}` };
}
