// Task AnalyzeMetrics: query every metric over the interval just baked, check each, and decide.
import { decide, evaluateCheck } from '../core/analysis';
import type { Measurement } from '../core/analysis';
import { boundStatus, templateVariables } from '../core/rollout';
import type { AnalysisRecord, ResolvedMetric, RolloutPlan, RolloutState, RolloutStatus } from '../core/rollout';
import { renderTemplate, usesRouterVariables } from '../core/template';
import { NO_DATA } from '../ports/metric-provider';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { assertOwner } from './ownership';
import { callHooks } from './webhooks';
import { rollbackRequest } from '../core/gates';

async function measure(deps: HandlerDeps, rendered: string, metric: ResolvedMetric, end: Date): Promise<Measurement> {
  try {
    const value = await deps.metricProvider(metric.provider).query(rendered, { seconds: metric.intervalSeconds, end });
    return value === NO_DATA ? { kind: 'no-data' } : { kind: 'value', value };
  } catch (error) {
    // A provider error is a failed check, not a crash: it counts toward the threshold like a breach.
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

/** What the router supplies to templates, or why it could not: asked once per analysis, and only when a metric needs it. */
type RouterVariables = { readonly values: Readonly<Record<string, string>> } | { readonly error: string };

async function routerVariables(deps: HandlerDeps, plan: RolloutPlan): Promise<RouterVariables> {
  if (!plan.metrics.some((metric) => usesRouterVariables(metric.query))) return { values: {} };
  try {
    return { values: (await deps.router(plan.router).metricVariables?.(plan.target)) ?? {} };
  } catch (error) {
    return { error: `${plan.router} router: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function analyzeOne(
  deps: HandlerDeps,
  plan: RolloutPlan,
  metric: ResolvedMetric,
  router: RouterVariables,
  weight: number,
  end: Date,
): Promise<AnalysisRecord> {
  const record = (query: string, measurement: Measurement): AnalysisRecord => ({
    ...evaluateCheck(metric.name, metric.thresholdRange, measurement),
    query,
    windowSeconds: metric.intervalSeconds,
    weight,
    time: end.toISOString(),
  });
  // Without the router's values (no target group found yet, say) the metric cannot be queried: a failed check, as a provider error is.
  if ('error' in router && usesRouterVariables(metric.query)) return record(metric.query, { kind: 'error', message: router.error });
  const rendered = renderTemplate(metric.query, templateVariables(plan, metric, 'values' in router ? router.values : undefined), `metric ${metric.name}`);
  return record(rendered, await measure(deps, rendered, metric, end));
}

export function createAnalyzeMetrics(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    await assertOwner(deps, rollout);
    const end = deps.now();
    const router = await routerVariables(deps, rollout);
    const measured = await Promise.all(rollout.metrics.map((metric) => analyzeOne(deps, rollout, metric, router, status.weight, end)));
    const records = [...(status.hookChecks ?? []), ...measured];
    const rollbackRequested = rollbackRequest(await callHooks(deps, rollout, 'rollback', 'Progressing'));
    const outcome = decide({
      rollbackRequested,
      checks: records,
      failedChecksBefore: status.failedChecks,
      threshold: rollout.threshold,
      counting: rollout.counting,
      weight: status.weight,
      isLastStep: status.stepIndex >= rollout.steps.length - 1,
    });
    if (outcome.decision === 'hold' || outcome.decision === 'rollback') {
      await recordEvent(deps, rollout, 'Progressing', { type: 'Warning', reason: 'AnalysisFailed', message: outcome.reason });
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
