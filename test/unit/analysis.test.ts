// Metric analysis: one check against its thresholdRange, failed-check counting, and the decision with its reason.
import { describe, expect, it } from 'vitest';
import { countFailedChecks, decide, evaluateCheck, formatValue } from '../../lambdas/core/analysis';
import type { CheckResult, DecisionInput } from '../../lambdas/core/analysis';

const value = (v: number) => ({ kind: 'value', value: v }) as const;
const NO_DATA = { kind: 'no-data' } as const;

const errorRateBreach = evaluateCheck('error-rate', { max: 1 }, value(18.666));
const errorRatePass = evaluateCheck('error-rate', { max: 1 }, value(0.4));
const latencyPass = evaluateCheck('request-duration', { max: 500 }, value(212.4));

function decision(overrides: Partial<DecisionInput>) {
  return decide({
    checks: [errorRatePass],
    failedChecksBefore: 0,
    threshold: 3,
    counting: 'consecutive',
    weight: 20,
    isLastStep: false,
    ...overrides,
  });
}

describe('evaluateCheck', () => {
  it('fails a value above max and says by how much', () => {
    // Act
    const check = evaluateCheck('error-rate', { max: 1 }, value(18.666));

    // Assess
    expect(check).toEqual({ metric: 'error-rate', value: 18.666, max: 1, min: undefined, verdict: 'fail', detail: 'error-rate 18.7 > max 1' });
  });

  it('fails a value below min', () => {
    // Act
    const check = evaluateCheck('request-success-rate', { min: 99 }, value(97.25));

    // Assess
    expect(check).toEqual({
      metric: 'request-success-rate',
      value: 97.25,
      min: 99,
      max: undefined,
      verdict: 'fail',
      detail: 'request-success-rate 97.3 < min 99',
    });
  });

  it('passes a value within the range and names the bounds', () => {
    // Act
    const check = evaluateCheck('request-duration', { min: 0, max: 500 }, value(212.4));

    // Assess
    expect(check.verdict).toBe('pass');
    expect(check.detail).toBe('request-duration 212 within min 0, max 500');
  });

  it.each([
    ['max', { max: 1 }, 1, 'error-rate 1 within max 1'],
    ['min', { min: 99 }, 99, 'error-rate 99 within min 99'],
  ])('passes a value exactly at %s: bounds are inclusive', (_bound, range, v, detail) => {
    // Act
    const check = evaluateCheck('error-rate', range, value(v));

    // Assess
    expect(check.verdict).toBe('pass');
    expect(check.detail).toBe(detail);
  });

  it('fails no data: no traffic is not health', () => {
    // Act
    const check = evaluateCheck('error-rate', { max: 1 }, NO_DATA);

    // Assess
    expect(check).toEqual({ metric: 'error-rate', value: null, max: 1, min: undefined, verdict: 'fail', detail: 'error-rate: no data' });
  });

  it('fails NaN as no data, even with no bound it could breach', () => {
    // Act
    const check = evaluateCheck('error-rate', { min: 0 }, value(Number.NaN));

    // Assess
    expect(check).toEqual({ metric: 'error-rate', value: null, min: 0, max: undefined, verdict: 'fail', detail: 'error-rate: no data' });
  });

  it.each([Infinity, -Infinity])('fails %s, even against a bound it does not cross', (v) => {
    // Act
    const check = evaluateCheck('request-duration', v > 0 ? { min: 0 } : { max: 500 }, value(v));

    // Assess
    expect(check.verdict).toBe('fail');
    expect(check.value).toBeNull();
    expect(check.detail).toBe(`request-duration: ${v} is not a finite number`);
  });

  it('fails a provider error and carries its message', () => {
    // Act
    const check = evaluateCheck('error-rate', { max: 1 }, { kind: 'error', message: 'prometheus: query timed out after 10s' });

    // Assess
    expect(check).toEqual({
      metric: 'error-rate',
      value: null,
      max: 1,
      min: undefined,
      verdict: 'fail',
      detail: 'error-rate: provider error: prometheus: query timed out after 10s',
    });
  });

  it('never shows a breaching value rounded onto the bound it breaches', () => {
    // Act
    const above = evaluateCheck('error-rate', { max: 1 }, value(1.004));
    const below = evaluateCheck('request-success-rate', { min: 99 }, value(98.96));
    const pastBound = evaluateCheck('error-rate', { max: 1.001 }, value(1.004));

    // Assess
    expect(above.detail).toBe('error-rate 1.004 > max 1');
    expect(below.detail).toBe('request-success-rate 98.96 < min 99');
    expect(pastBound.detail).toBe('error-rate 1.004 > max 1.001');
  });
});

describe('formatValue', () => {
  it.each([
    [18.666, '18.7'],
    [643.2, '643'],
    [0.1234, '0.12'],
    [-2.345, '-2.35'],
    [5, '5'],
  ])('shows %d as %s', (v, shown) => {
    expect(formatValue(v)).toBe(shown);
  });
});

describe('countFailedChecks', () => {
  it('adds one for a failed check', () => {
    expect(countFailedChecks(2, true, 'consecutive')).toBe(3);
  });

  it('resets to zero on a pass when counting consecutive checks', () => {
    expect(countFailedChecks(2, false, 'consecutive')).toBe(0);
  });

  it('never resets when counting cumulative checks, as Flagger does', () => {
    expect(countFailedChecks(2, false, 'cumulative')).toBe(2);
  });

  it('counts fail, fail, pass, fail as 1 consecutive and 3 cumulative', () => {
    // Prepare
    const verdicts = [true, true, false, true];

    // Act
    const consecutive = verdicts.reduce((count, failed) => countFailedChecks(count, failed, 'consecutive'), 0);
    const cumulative = verdicts.reduce((count, failed) => countFailedChecks(count, failed, 'cumulative'), 0);

    // Assess
    expect(consecutive).toBe(1);
    expect(cumulative).toBe(3);
  });
});

describe('decide', () => {
  it('rolls back on the check that reaches the threshold, not one later', () => {
    // Prepare
    const outcomes: string[] = [];
    let failedChecks = 0;

    // Act
    for (let tick = 0; tick < 3; tick++) {
      const outcome = decision({ checks: [errorRateBreach], failedChecksBefore: failedChecks, threshold: 3 });
      failedChecks = outcome.failedChecks;
      outcomes.push(outcome.decision);
    }

    // Assess
    expect(outcomes).toEqual(['hold', 'hold', 'rollback']);
    expect(failedChecks).toBe(3);
  });

  it('names the metric, value, bound and tally in the rollback reason', () => {
    // Act
    const outcome = decision({ checks: [latencyPass, errorRateBreach], failedChecksBefore: 2, threshold: 3, weight: 20 });

    // Assess
    expect(outcome).toEqual({
      decision: 'rollback',
      failedChecks: 3,
      reason: 'error-rate 18.7 > max 1 (3/3 consecutive failed checks at canary weight 20%)',
    });
  });

  it('rolls back at once with a threshold of 1', () => {
    expect(decision({ checks: [errorRateBreach], threshold: 1 }).decision).toBe('rollback');
  });

  it('holds the weight below the threshold and says so', () => {
    // Act
    const outcome = decision({ checks: [errorRateBreach], failedChecksBefore: 1, threshold: 3, weight: 30 });

    // Assess
    expect(outcome).toEqual({
      decision: 'hold',
      failedChecks: 2,
      reason: 'error-rate 18.7 > max 1 (2/3 consecutive failed checks at canary weight 30%); holding the weight',
    });
  });

  it('lists every failing metric in the reason', () => {
    // Prepare
    const noData = evaluateCheck('request-duration', { max: 500 }, NO_DATA);

    // Act
    const outcome = decision({ checks: [errorRateBreach, noData], failedChecksBefore: 0, threshold: 1, weight: 10 });

    // Assess
    expect(outcome.reason).toBe('error-rate 18.7 > max 1; request-duration: no data (1/1 consecutive failed checks at canary weight 10%)');
  });

  it('names cumulative counting in the tally when the Canary uses it', () => {
    // Act
    const outcome = decision({ checks: [errorRateBreach], failedChecksBefore: 2, counting: 'cumulative', weight: 40 });

    // Assess
    expect(outcome.reason).toBe('error-rate 18.7 > max 1 (3/3 cumulative failed checks at canary weight 40%)');
  });

  it('continues after a passing analysis that is not the last step, resetting consecutive failures', () => {
    // Act
    const outcome = decision({ checks: [errorRatePass, latencyPass], failedChecksBefore: 2, weight: 20, isLastStep: false });

    // Assess
    expect(outcome).toEqual({
      decision: 'continue',
      failedChecks: 0,
      reason: 'error-rate 0.4 within max 1; request-duration 212 within max 500 at canary weight 20%',
    });
  });

  it('keeps the cumulative count through a passing analysis', () => {
    expect(decision({ checks: [errorRatePass], failedChecksBefore: 2, counting: 'cumulative' }).failedChecks).toBe(2);
  });

  it('promotes only after the last step’s analysis passes', () => {
    // Act
    const outcome = decision({ checks: [errorRatePass], weight: 50, isLastStep: true });

    // Assess
    expect(outcome).toEqual({
      decision: 'promote',
      failedChecks: 0,
      reason: 'error-rate 0.4 within max 1 at canary weight 50%, the last step: promoting',
    });
  });

  it('does not promote when the last step’s analysis fails', () => {
    expect(decision({ checks: [errorRateBreach], failedChecksBefore: 0, threshold: 3, isLastStep: true }).decision).toBe('hold');
  });

  it('continues on a Canary with no metrics, and says there was nothing to check', () => {
    // Act
    const outcome = decision({ checks: [] as CheckResult[], weight: 10 });

    // Assess
    expect(outcome).toEqual({ decision: 'continue', failedChecks: 0, reason: 'no metrics to check at canary weight 10%' });
  });
});
