// The rollout as Step Functions carries it: the plan made at Initialize and the status each state updates.
import type { CheckResult, Decision } from './analysis';
import { albBuiltin, builtinTemplate, isBuiltinMetric } from './builtin-metrics';
import { staleAfterSeconds } from './lock';
import { showValue } from './show-value';
import { SpecValidationError } from './errors';
import { DEFAULT_CLOUDWATCH_LAG_SECONDS } from './spec';
import type { CanarySpec, MetricTemplateSpec, ProviderSpec, RouterType, ThresholdRange, WebhookSpec } from './spec';
import { renderTemplate, routerVariableStandIns } from './template';
import type { TemplateVariables } from './template';
import type { RolloutTarget } from '../ports/target';
import type { GateStatus } from './gates';

/** A metric with its query template and provider resolved (templateRef, builtin or inline). */
export interface ResolvedMetric {
  readonly name: string;
  readonly provider: ProviderSpec;
  readonly query: string;
  readonly thresholdRange: ThresholdRange;
  readonly interval: string;
  readonly intervalSeconds: number;
  readonly variables: Readonly<Record<string, string>>;
  /** Where the query came from: `MetricTemplate prod/error-rate`, `builtin request-duration`, `inline`. */
  readonly source: string;
}

/** Fixed at Initialize; every later state reads it. */
export interface RolloutPlan {
  /** `<namespace>/<name>` of the Canary. */
  readonly canary: string;
  /** The Step Functions execution running this rollout: the holder of the target's lock. */
  readonly execution: string;
  readonly target: RolloutTarget;
  readonly router: RouterType;
  readonly cluster?: string;
  readonly container: string;
  /** The pushed image, pinned by digest. */
  readonly image: string;
  readonly tag?: string;
  /** The stable image before this rollout, restored if a promotion fails half way. */
  readonly previousImage: string;
  readonly steps: readonly number[];
  readonly intervalSeconds: number;
  readonly threshold: number;
  readonly counting: 'consecutive' | 'cumulative';
  readonly progressDeadlineSeconds: number;
  /** spec.skipAnalysis: once the canary is ready, promote without shifting traffic or analysing. */
  readonly skipAnalysis: boolean;
  readonly startedAt: string;
  readonly metrics: readonly ResolvedMetric[];
  /** Flagger webhooks: pre-rollout before the first shift, rollout at the start of each bake, post-rollout at the end. */
  readonly webhooks: readonly WebhookSpec[];
  /** The Canary has confirm-* webhooks: the state machine asks them (ConfirmGate) before the moves they gate. */
  readonly gated: boolean;
}

export type Phase =
  | 'Ignored'
  | 'Superseded'
  | 'Initialized'
  | 'Progressing'
  | 'Waiting'
  | 'Promoting'
  | 'Promoted'
  | 'RolledBack';

/** One metric's result as the execution view shows it. */
export interface AnalysisRecord extends CheckResult {
  readonly query: string;
  readonly windowSeconds: number;
  readonly weight: number;
  readonly time: string;
}

/** What every state's output says about the rollout: the story the console tells. */
export interface RolloutStatus {
  readonly phase: Phase;
  readonly stepIndex: number;
  readonly weight: number;
  /** Each canary weight in the order it was set (a held weight appears once). */
  readonly weights: readonly number[];
  readonly failedChecks: number;
  readonly decision?: Decision;
  readonly reason?: string;
  readonly lastAnalysis?: readonly AnalysisRecord[];
  /** Rollout webhooks called at the start of this bake; AnalyzeMetrics counts them with the metrics. */
  readonly hookChecks?: readonly AnalysisRecord[];
  readonly canaryReady?: boolean;
  readonly stableReady?: boolean;
  /** When Promote first set the new image on the stable Deployment. */
  readonly promotionStartedAt?: string;
  /** The gate ConfirmGate last asked, and whether it is open; `none` when no gate stands before the next move. */
  readonly gate?: GateStatus;
  readonly updatedAt: string;
}

export interface RolloutState {
  readonly rollout: RolloutPlan;
  readonly status: RolloutStatus;
}

const MAX_RECORDS = 10;
/** Enough for a CloudWatch query with its dimensions (an ALB builtin renders to about 800). */
const MAX_QUERY_CHARS = 1000;
const MAX_DETAIL_CHARS = 300;
const MAX_REASON_CHARS = 1000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function boundRecord(record: AnalysisRecord): AnalysisRecord {
  return { ...record, query: clip(record.query, MAX_QUERY_CHARS), detail: clip(record.detail, MAX_DETAIL_CHARS) };
}

/** Keep a status within a bounded size, whatever the number of metrics or the length of queries. */
export function boundStatus(status: RolloutStatus): RolloutStatus {
  return {
    ...status,
    weights: status.weights.slice(-50),
    reason: status.reason === undefined ? undefined : clip(status.reason, MAX_REASON_CHARS),
    lastAnalysis: status.lastAnalysis?.slice(0, MAX_RECORDS).map(boundRecord),
    hookChecks: status.hookChecks?.slice(0, MAX_RECORDS).map(boundRecord),
  };
}

export function templateVariables(
  plan: Pick<RolloutPlan, 'target' | 'canary'>,
  metric: Pick<ResolvedMetric, 'interval' | 'variables'>,
  router?: Readonly<Record<string, string>>,
): TemplateVariables {
  return {
    router,
    name: plan.canary.split('/')[1],
    ingress: plan.target.route,
    target: plan.target.canaryDeployment,
    stable: plan.target.deployment,
    namespace: plan.target.namespace,
    service: plan.target.service,
    interval: metric.interval,
    variables: metric.variables,
  };
}

/**
 * Resolve every metric of a Canary to a provider and a query template, and render each once
 * so that an unknown template or variable fails before any traffic moves.
 */
export function resolveMetrics(
  canary: CanarySpec,
  templates: readonly MetricTemplateSpec[],
  metricsServer: ProviderSpec | undefined,
  target: RolloutTarget,
): ResolvedMetric[] {
  const issues: string[] = [];
  const resolved = canary.analysis.metrics.flatMap((metric, i): ResolvedMetric[] => {
    const at = `spec.analysis.metrics[${i}]`;
    const common = {
      name: metric.name,
      thresholdRange: metric.thresholdRange,
      interval: metric.interval,
      intervalSeconds: metric.intervalSeconds,
      variables: metric.templateVariables,
    };
    let entry: ResolvedMetric;
    if (metric.templateRef) {
      const ref = metric.templateRef;
      const template = templates.find((t) => t.name === ref.name && t.namespace === ref.namespace);
      if (!template) {
        const known = templates.map((t) => `${t.namespace}/${t.name}`).join(', ') || 'none';
        issues.push(`${at}.templateRef: MetricTemplate ${ref.namespace}/${ref.name} not found (loaded: ${known})`);
        return [];
      }
      entry = { ...common, provider: template.provider, query: template.query, source: `MetricTemplate ${ref.namespace}/${ref.name}` };
    } else if (!metric.query && isBuiltinMetric(metric.name) && canary.router === 'alb') {
      const preset = albBuiltin(metric.name, metric.intervalSeconds);
      if ('issue' in preset) {
        issues.push(`${at}.${preset.issue}`);
        return [];
      }
      entry = { ...common, ...preset, source: `builtin ${metric.name}` };
    } else if (metric.query || isBuiltinMetric(metric.name)) {
      if (!metricsServer) {
        issues.push(
          `${at}: metric ${showValue(metric.name)} runs on the metrics server, but none is set ` +
            '(spec.fledge.metricsServer or the deployment\'s metrics server)',
        );
        return [];
      }
      if (metric.query) {
        if (metricsServer.type === 'web') {
          issues.push(`${at}.query: an inline query needs a prometheus metrics server, got ${metricsServer.type}`);
          return [];
        }
        entry = { ...common, provider: metricsServer, query: metric.query, source: 'inline' };
      } else {
        // The alb router's builtins are taken above: here the router is one of the metrics server's.
        const preset = builtinTemplate(metric.name as never, canary.router as Exclude<RouterType, 'alb'>, metricsServer.type);
        entry = {
          ...common,
          provider: preset.jsonPath ? { ...metricsServer, jsonPath: preset.jsonPath } : metricsServer,
          query: preset.query,
          source: `builtin ${metric.name}`,
        };
      }
    } else {
      issues.push(
        `${at}: metric ${showValue(metric.name)} has no templateRef or query and is not a builtin ` +
          '(request-success-rate, request-duration)',
      );
      return [];
    }
    try {
      const plan = { target, canary: `${canary.namespace}/${canary.name}` };
      renderTemplate(entry.query, templateVariables(plan, entry, routerVariableStandIns(canary.router)), `${at} (${entry.source})`);
    } catch (error) {
      issues.push((error as Error).message);
      return [];
    }
    const late = windowOutsideBake(entry, canary.analysis.intervalSeconds);
    if (late) {
      issues.push(`${at}: ${late}`);
      return [];
    }
    return [entry];
  });
  if (issues.length > 0) {
    throw new SpecValidationError(`Canary ${canary.namespace}/${canary.name}: ${issues.join('; ')}`, issues);
  }
  return resolved;
}

/**
 * A CloudWatch window ends `lagSeconds` before the analysis, rounded down to the minute: a bake
 * shorter than window + lag + a minute would judge the previous weight's traffic.
 */
export function windowOutsideBake(metric: Pick<ResolvedMetric, 'provider' | 'intervalSeconds'>, bakeSeconds: number): string | undefined {
  if (metric.provider.type !== 'cloudwatch') return undefined;
  const needed = metric.intervalSeconds + (metric.provider.lagSeconds ?? DEFAULT_CLOUDWATCH_LAG_SECONDS) + 60;
  if (bakeSeconds >= needed) return undefined;
  return (
    `its CloudWatch window (${metric.intervalSeconds}s, ending lagSeconds ${metric.provider.lagSeconds ?? DEFAULT_CLOUDWATCH_LAG_SECONDS}s ` +
    `and up to a minute before the analysis) would fall outside the bake: spec.analysis.interval must be at least ${needed}s, got ${bakeSeconds}s`
  );
}

/** A readable reason from a Step Functions error object ({Error, Cause}); Lambda's Cause is JSON. */
export function reasonFromError(error: { Error?: string; Cause?: string } | undefined): string | undefined {
  if (!error) return undefined;
  const cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorType?: string; errorMessage?: string };
    if (parsed && typeof parsed === 'object' && parsed.errorMessage !== undefined) {
      return `${parsed.errorType ?? error.Error ?? 'Error'}: ${parsed.errorMessage}`;
    }
  } catch {
    // Not JSON: a plain message, as the local interpreter gives it.
  }
  return cause ? `${error.Error ?? 'Error'}: ${cause}` : error.Error;
}

/**
 * Rollback must restore the stable image too once Promote may have set the new one: also
 * when Promote failed after its write, since the Catch keeps the status from before it.
 */
export function promotionBegun(status: Pick<RolloutStatus, 'phase' | 'decision'>): boolean {
  return status.phase === 'Promoting' || status.decision === 'promote';
}

/** How long a lock may go without a heartbeat before it counts as abandoned. */
export function lockStaleAfter(plan: Pick<RolloutPlan, 'intervalSeconds' | 'progressDeadlineSeconds'>): number {
  return staleAfterSeconds(plan.intervalSeconds, plan.progressDeadlineSeconds);
}

/**
 * What follows a ready canary: the analysis loop, or with spec.skipAnalysis (Flagger's) the
 * promotion at once, decided here so that a Promote that fails after its write is rolled back
 * as a promotion (promotionBegun).
 */
export function whenCanaryReady(plan: Pick<RolloutPlan, 'skipAnalysis' | 'image'>): Pick<RolloutStatus, 'decision' | 'reason'> | undefined {
  if (!plan.skipAnalysis) return undefined;
  return { decision: 'promote', reason: `analysis skipped (spec.skipAnalysis): promoting ${plan.image} without shifting traffic` };
}
