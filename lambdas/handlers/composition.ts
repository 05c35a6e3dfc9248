// The composition root: builds every adapter from configuration; the only place that picks implementations.
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { loadManifestFolder } from '../adapters/manifests/folder-manifests';
import { CloudWatchMetricData } from '../adapters/metrics/cloudwatch-metric-data';
import { CloudWatchProvider } from '../adapters/metrics/cloudwatch-provider';
import { PrometheusProvider } from '../adapters/metrics/prometheus-provider';
import type { AwsCredentialsProvider } from '../adapters/metrics/sigv4';
import { SecretsManagerSecretStore } from '../adapters/secrets/secrets-manager-secret-store';
import { WebProvider } from '../adapters/metrics/web-provider';
import { kubeConfigFor } from '../adapters/kubernetes/client';
import { eksKubernetesEndpoint } from '../adapters/kubernetes/eks-endpoint';
import { KubernetesEventRecorder } from '../adapters/kubernetes/kubernetes-event-recorder';
import { KubernetesRolloutLock } from '../adapters/kubernetes/kubernetes-rollout-lock';
import { KubernetesWorkloads } from '../adapters/kubernetes/kubernetes-workloads';
import { HttpWebhookClient } from '../adapters/notify/http-webhook-client';
import { SnsNotifier } from '../adapters/notify/sns-notifier';
import { AlbRouter } from '../adapters/routers/alb-router';
import { AlbTargetGroups } from '../adapters/routers/alb-target-groups';
import { GatewayApiRouter } from '../adapters/routers/gateway-api-router';
import { IstioRouter } from '../adapters/routers/istio-router';
import { KubernetesServiceRouter } from '../adapters/routers/kubernetes-router';
import { NginxRouter } from '../adapters/routers/nginx-router';
import type { ProviderSpec, RouterType } from '../core/spec';
import type { MetricProvider } from '../ports/metric-provider';
import type { SecretStore } from '../ports/secrets';
import type { TrafficRouter } from '../ports/traffic-router';
import { kubernetesTarget, type FledgeConfig } from './config';
import type { HandlerDeps } from './deps';

/** What the metric providers of one Lambda container share: built once, so caches and batches outlive a single query. */
export interface MetricProviderContext {
  /** Time allowed for one query (FLEDGE_METRIC_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** Where secretRef credentials are read, with a cache. */
  readonly secrets: SecretStore;
  /** GetMetricData, batching the CloudWatch metrics of one analysis. */
  readonly cloudWatch: CloudWatchMetricData;
  /** Credentials that sign Amazon Managed Prometheus requests. */
  readonly awsCredentials: AwsCredentialsProvider;
}

/** One metric provider per provider spec; an unknown type is an error, never a silent default. */
export function metricProviderFor(provider: ProviderSpec, context: MetricProviderContext): MetricProvider {
  const { timeoutMs } = context;
  switch (provider.type) {
    case 'prometheus':
      return new PrometheusProvider({
        address: provider.address!,
        timeoutMs,
        headers: provider.headers,
        secret: provider.secretRef ? { name: provider.secretRef.name, store: context.secrets } : undefined,
        sigv4: provider.sigv4 ? { region: provider.region!, credentials: context.awsCredentials } : undefined,
      });
    case 'web':
      return new WebProvider({ address: provider.address, jsonPath: provider.jsonPath!, timeoutMs, headers: provider.headers });
    case 'cloudwatch':
      return new CloudWatchProvider({ metricData: context.cloudWatch, region: provider.region, lagSeconds: provider.lagSeconds, timeoutMs });
    default: {
      const unknown: never = provider.type;
      throw new Error(`unknown metric provider type ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * The container's metric provider factory. The shared parts (Secrets Manager cache, CloudWatch
 * batching, the AWS credential chain: the Lambda role) are built on first use; `shared`
 * replaces them (tests point them at moto).
 */
export function metricProviders(timeoutMs: number, shared: Partial<Omit<MetricProviderContext, 'timeoutMs'>> = {}): (provider: ProviderSpec) => MetricProvider {
  let context: MetricProviderContext | undefined;
  return (provider) => {
    context ??= {
      timeoutMs,
      secrets: shared.secrets ?? new SecretsManagerSecretStore({ timeoutMs }),
      cloudWatch: shared.cloudWatch ?? new CloudWatchMetricData(),
      awsCredentials: shared.awsCredentials ?? defaultProvider(),
    };
    return metricProviderFor(provider, context);
  };
}

export function buildDeps(config: FledgeConfig): HandlerDeps {
  const target = kubernetesTarget(config);
  // EKS: endpoint and CA from DescribeCluster on the first request, an IAM token on every request.
  const kubeConfig = kubeConfigFor(
    target.kind === 'eks'
      ? eksKubernetesEndpoint({ cluster: target.cluster, region: target.region, timeoutMs: config.kubeTimeoutMs })
      : { server: target.server, timeoutMs: config.kubeTimeoutMs },
  );
  const routers: Record<RouterType, TrafficRouter> = {
    gatewayapi: new GatewayApiRouter(kubeConfig),
    nginx: new NginxRouter(kubeConfig),
    istio: new IstioRouter(kubeConfig),
    // The canary target group's load balancer is read with the function role, in the target group's region.
    alb: new AlbRouter(kubeConfig, { targetGroups: new AlbTargetGroups(kubeConfig, { timeoutMs: config.metricTimeoutMs }) }),
    kubernetes: new KubernetesServiceRouter(),
  };
  return {
    loadManifests: () => loadManifestFolder(config.manifestsDir),
    workloads: new KubernetesWorkloads(kubeConfig),
    events: new KubernetesEventRecorder(kubeConfig),
    webhooks: new HttpWebhookClient(),
    lock: new KubernetesRolloutLock(kubeConfig),
    notifier: config.notifyTopicArn ? new SnsNotifier(config.notifyTopicArn) : undefined,
    router: (type) => routers[type],
    metricProvider: metricProviders(config.metricTimeoutMs),
    metricsServer: config.metricsServer,
    now: () => new Date(),
  };
}
