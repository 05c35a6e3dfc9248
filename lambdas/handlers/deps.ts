// What the handlers need from the outside world, built once by the composition root.
import type { MetricTemplateSpec, CanarySpec, ProviderSpec, RouterType } from '../core/spec';
import type { MetricProvider } from '../ports/metric-provider';
import type { Notifier } from '../ports/notifier';
import type { RolloutLock } from '../ports/rollout-lock';
import type { TrafficRouter } from '../ports/traffic-router';
import type { WebhookClient } from '../ports/webhook-client';
import type { EventRecorder, Workloads } from '../ports/workloads';

export interface Manifests {
  readonly canaries: readonly CanarySpec[];
  readonly templates: readonly MetricTemplateSpec[];
}

export interface HandlerDeps {
  /** The Canary and MetricTemplate manifests this installation serves, validated. */
  loadManifests(): Promise<Manifests>;
  readonly workloads: Workloads;
  readonly events: EventRecorder;
  readonly webhooks: WebhookClient;
  readonly lock: RolloutLock;
  /** Where a person is told that a rollback failed; undefined: Kubernetes Events only. */
  readonly notifier?: Notifier;
  router(type: RouterType): TrafficRouter;
  metricProvider(provider: ProviderSpec): MetricProvider;
  /** The metrics server for builtin and inline metrics when a Canary does not set spec.fledge.metricsServer. */
  readonly metricsServer?: ProviderSpec;
  now(): Date;
}
