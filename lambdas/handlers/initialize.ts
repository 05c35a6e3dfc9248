// Task Initialize: read the ECR push, find its Canary and check everything the rollout needs, writing nothing.
import { parseImagePush } from '../core/ecr-event';
import type { ImagePush } from '../core/ecr-event';
import { resolveMetrics } from '../core/rollout';
import type { RolloutPlan, RolloutState, RolloutStatus } from '../core/rollout';
import { parseMetricsServer } from '../core/spec';
import { alreadyRuns, matchTarget, rolloutTarget, selectContainer } from '../core/targets';
import { decideLock, staleAfterSeconds } from '../core/lock';
import { weightSteps } from '../core/weights';
import { isGated } from '../core/gates';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';

export type InitializeOutput = RolloutState | { readonly status: RolloutStatus; readonly push: Pick<ImagePush, 'repository' | 'tag' | 'digest'> };

/** The execution input as the state machine passes it: the ECR event and the execution's id. */
export interface InitializeInput {
  readonly event: unknown;
  readonly execution: string;
}

export function createInitialize(deps: HandlerDeps) {
  return async ({ event, execution }: InitializeInput): Promise<InitializeOutput> => {
    const push = parseImagePush(event);
    const now = deps.now().toISOString();
    const pushed = { repository: push.repository, tag: push.tag, digest: push.digest };
    const ignored = (reason: string) => ({
      push: pushed,
      status: { phase: 'Ignored' as const, stepIndex: -1, weight: 0, weights: [], failedChecks: 0, reason, updatedAt: now },
    });

    const { canaries, templates } = await deps.loadManifests();
    const match = matchTarget(canaries, push);
    if (match.kind === 'ignored') return ignored(match.reason);
    const canary = match.canary;
    const target = rolloutTarget(canary);
    const metricsServer = canary.fledge.metricsServer
      ? parseMetricsServer(canary.fledge.metricsServer, `Canary ${canary.namespace}/${canary.name} spec.fledge.metricsServer`)
      : deps.metricsServer;
    const metrics = resolveMetrics(canary, templates, metricsServer, target);

    // Only reads here: bad input is rejected before anything in the cluster changes.
    const where = `Deployment ${target.namespace}/${target.deployment}`;
    const images = await deps.workloads.getContainerImages(target.namespace, target.deployment);
    const container = selectContainer(images, push.repository, canary.fledge.container, where);
    const previousImage = images[container];
    if (alreadyRuns(previousImage, push)) {
      return ignored(`${where} already runs ${push.image}`);
    }
    await deps.workloads.assertServiceExists(target.namespace, target.service);
    const router = deps.router(canary.router);
    await router.getWeights(target);
    const providers = new Map(metrics.map((metric) => [JSON.stringify(metric.provider), metric.provider]));
    await Promise.all([...providers.values()].map((provider) => deps.metricProvider(provider).checkOnline()));

    const lock = decideLock(
      await deps.lock.read(target),
      execution,
      push.image,
      deps.now(),
      staleAfterSeconds(canary.analysis.intervalSeconds, canary.progressDeadlineSeconds),
    );
    if (lock.kind === 'duplicate') {
      return ignored(`execution ${lock.holder.execution} is already rolling out ${push.image} (ECR sends one event per tag)`);
    }
    const plan: RolloutPlan = {
      canary: `${canary.namespace}/${canary.name}`,
      execution,
      target,
      router: canary.router,
      cluster: canary.fledge.cluster,
      container,
      image: push.image,
      tag: push.tag,
      previousImage,
      steps: weightSteps(canary.analysis, canary.router),
      intervalSeconds: canary.analysis.intervalSeconds,
      threshold: canary.analysis.threshold,
      counting: canary.fledge.failedCheckCounting,
      progressDeadlineSeconds: canary.progressDeadlineSeconds,
      skipAnalysis: canary.skipAnalysis,
      startedAt: now,
      metrics,
      webhooks: canary.analysis.webhooks,
      gated: isGated(canary.analysis.webhooks),
    };
    const status: RolloutStatus = {
      phase: 'Initialized',
      stepIndex: -1,
      weight: 0,
      weights: [],
      failedChecks: 0,
      reason:
        `rolling out ${push.image}${push.tag ? ` (tag ${push.tag})` : ''} in steps ${plan.steps.join(', ')}%` +
        (lock.supersedes ? `; supersedes execution ${lock.supersedes.execution} (${lock.supersedes.image})` : ''),
      updatedAt: now,
    };
    return { rollout: plan, status };
  };
}

export const handler = lambdaHandler(createInitialize);
