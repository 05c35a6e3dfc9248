// The composition root: builds every adapter from configuration; the only place that picks implementations.
import { loadManifestFolder } from '../adapters/manifests/folder-manifests';
import { PrometheusProvider } from '../adapters/metrics/prometheus-provider';
import { WebProvider } from '../adapters/metrics/web-provider';
import { kubeConfigFor } from '../adapters/kubernetes/client';
import { KubernetesEventRecorder } from '../adapters/kubernetes/kubernetes-event-recorder';
import { KubernetesRolloutLock } from '../adapters/kubernetes/kubernetes-rollout-lock';
import { KubernetesWorkloads } from '../adapters/kubernetes/kubernetes-workloads';
import { HttpWebhookClient } from '../adapters/notify/http-webhook-client';
import { SnsNotifier } from '../adapters/notify/sns-notifier';
import { GatewayApiRouter } from '../adapters/routers/gateway-api-router';
import type { ProviderSpec, RouterType } from '../core/spec';
import type { MetricProvider } from '../ports/metric-provider';
import type { TrafficRouter } from '../ports/traffic-router';
import type { FledgeConfig } from './config';
import type { HandlerDeps } from './deps';

/** One metric provider per provider spec; an unknown type is an error, never a silent default. */
export function metricProviderFor(provider: ProviderSpec, timeoutMs: number): MetricProvider {
  switch (provider.type) {
    case 'prometheus':
      return new PrometheusProvider({ address: provider.address!, timeoutMs, headers: provider.headers });
    case 'web':
      return new WebProvider({ address: provider.address, jsonPath: provider.jsonPath!, timeoutMs, headers: provider.headers });
    default: {
      const unknown: never = provider.type;
      throw new Error(`unknown metric provider type ${JSON.stringify(unknown)}`);
    }
  }
}

export function buildDeps(config: FledgeConfig): HandlerDeps {
  const kubeConfig = kubeConfigFor({ server: config.kubeServer, timeoutMs: config.kubeTimeoutMs });
  const routers: Record<RouterType, TrafficRouter> = {
    gatewayapi: new GatewayApiRouter(kubeConfig),
  };
  return {
    loadManifests: () => loadManifestFolder(config.manifestsDir),
    workloads: new KubernetesWorkloads(kubeConfig),
    events: new KubernetesEventRecorder(kubeConfig),
    webhooks: new HttpWebhookClient(),
    lock: new KubernetesRolloutLock(kubeConfig),
    notifier: config.notifyTopicArn ? new SnsNotifier(config.notifyTopicArn) : undefined,
    router: (type) => routers[type],
    metricProvider: (provider) => metricProviderFor(provider, config.metricTimeoutMs),
    metricsServer: config.metricsServer,
    now: () => new Date(),
  };
}
