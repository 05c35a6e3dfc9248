// Task AnalyzeMetrics: query every metric over the interval just baked, check each, and decide.
import { decide, evaluateCheck } from '../core/analysis';
import type { Measurement } from '../core/analysis';
import { boundStatus, templateVariables } from '../core/rollout';
import type { AnalysisRecord, ResolvedMetric, RolloutPlan, RolloutState, RolloutStatus } from '../core/rollout';
import { renderTemplate } from '../core/template';
import { NO_DATA } from '../ports/metric-provider';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { assertOwner } from './ownership';

async function measure(deps: HandlerDeps, rendered: string, metric: ResolvedMetric, end: Date): Promise<Measurement> {
  try {
    const value = await deps.metricProvider(metric.provider).query(rendered, { seconds: metric.intervalSeconds, end });
    return value === NO_DATA ? { kind: 'no-data' } : { kind: 'value', value };
  } catch (error) {
    // A provider error is a failed check, not a crash: it counts toward the threshold like a breach.
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

async function analyzeOne(deps: HandlerDeps, plan: RolloutPlan, metric: ResolvedMetric, weight: number, end: Date): Promise<AnalysisRecord> {
  const rendered = renderTemplate(metric.query, templateVariables(plan, metric), `metric ${metric.name}`);
  const check = evaluateCheck(metric.name, metric.thresholdRange, await measure(deps, rendered, metric, end));
  return { ...check, query: rendered, windowSeconds: metric.intervalSeconds, weight, time: end.toISOString() };
}

export function createAnalyzeMetrics(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    await assertOwner(deps, rollout);
    const end = deps.now();
    const measured = await Promise.all(rollout.metrics.map((metric) => analyzeOne(deps, rollout, metric, status.weight, end)));
    const records = [...(status.hookChecks ?? []), ...measured];
    const outcome = decide({
      checks: records,
      failedChecksBefore: status.failedChecks,
      threshold: rollout.threshold,
      counting: rollout.counting,
      weight: status.weight,
      isLastStep: status.stepIndex >= rollout.steps.length - 1,
    });
    if (outcome.decision === 'hold' || outcome.decision === 'rollback') {
      await deps.events.record(rollout.target, { type: 'Warning', reason: 'AnalysisFailed', message: outcome.reason });
    }
    return boundStatus({
      ...status,
      failedChecks: outcome.failedChecks,
      decision: outcome.decision,
      reason: outcome.reason,
      lastAnalysis: records,
      updatedAt: end.toISOString(),
    });
  };
}

export const handler = lambdaHandler(createAnalyzeMetrics);
