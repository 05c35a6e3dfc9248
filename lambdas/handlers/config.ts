// Fledge's runtime configuration, read from the environment in this one place; a bad value names its variable.
import { ConfigurationError } from '../core/errors';
import { parseMetricsServer } from '../core/spec';
import type { ProviderSpec } from '../core/spec';

export interface FledgeConfig {
  /** Folder of Canary and MetricTemplate YAML (FLEDGE_MANIFESTS_DIR). */
  readonly manifestsDir: string;
  /**
   * Kubernetes API server URL (FLEDGE_KUBE_SERVER), reached with no AWS authentication: the local
   * emulator. Exactly one of `kubeServer` and `eksCluster`. @default - none
   */
  readonly kubeServer?: string;
  /**
   * EKS cluster name (FLEDGE_EKS_CLUSTER): its endpoint and CA come from DescribeCluster, each request
   * carries an IAM token. Exactly one of `kubeServer` and `eksCluster`. @default - none
   */
  readonly eksCluster?: string;
  /** The EKS cluster's region (AWS_REGION, which Lambda sets); required with `eksCluster`. @default - none */
  readonly awsRegion?: string;
  /** Metrics server for builtin and inline metrics (FLEDGE_METRICS_SERVER, `prometheus:<url>` or `web:<url>`). */
  readonly metricsServer?: ProviderSpec;
  /** Per-query timeout (FLEDGE_METRIC_TIMEOUT_MS, default 10000). */
  readonly metricTimeoutMs: number;
  /**
   * Per-request timeout for the Kubernetes API (FLEDGE_KUBE_TIMEOUT_MS, default 10000): a request
   * with no complete answer by then fails as KubernetesTransientError, which the state machine
   * retries, instead of holding the Task until its 120 s timeout. @default 10000
   */
  readonly kubeTimeoutMs?: number;
  /** SNS topic told when a rollback cannot restore traffic (FLEDGE_NOTIFY_TOPIC_ARN). @default - no SNS message; a Warning Event only */
  readonly notifyTopicArn?: string;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}

function milliseconds(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name] ?? String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigurationError(`environment variable ${name}: expected a positive whole number of milliseconds, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function topicArn(env: Record<string, string | undefined>): string | undefined {
  const value = env.FLEDGE_NOTIFY_TOPIC_ARN;
  if (value === undefined || value === '') return undefined;
  if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/.test(value)) {
    throw new ConfigurationError(`environment variable FLEDGE_NOTIFY_TOPIC_ARN: expected an SNS topic ARN, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Which Kubernetes API the handlers talk to, and how. */
export type KubernetesTarget =
  | { readonly kind: 'server'; readonly server: string }
  | { readonly kind: 'eks'; readonly cluster: string; readonly region: string };

/** EKS's rule for cluster names. */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
/** us-west-2, eu-central-1, us-gov-west-1, cn-north-1: the region goes into the STS host the token is signed for. */
const AWS_REGION_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/**
 * The Kubernetes target of a configuration: exactly one of FLEDGE_EKS_CLUSTER (on AWS) and
 * FLEDGE_KUBE_SERVER (a local API server) is set, and each is well formed. Checked by
 * configFromEnv and again by buildDeps, for configurations built in code.
 */
export function kubernetesTarget(config: Pick<FledgeConfig, 'kubeServer' | 'eksCluster' | 'awsRegion'>): KubernetesTarget {
  const { kubeServer, eksCluster, awsRegion } = config;
  const server = kubeServer === '' ? undefined : kubeServer;
  const cluster = eksCluster === '' ? undefined : eksCluster;
  if ((server === undefined) === (cluster === undefined)) {
    throw new ConfigurationError(
      `environment variables FLEDGE_EKS_CLUSTER and FLEDGE_KUBE_SERVER: set exactly one (FLEDGE_EKS_CLUSTER, the EKS cluster's name, on AWS; FLEDGE_KUBE_SERVER, an API server URL, locally); ${server === undefined ? 'neither is set' : 'both are set'}`,
    );
  }
  if (server !== undefined) {
    try {
      new URL(server);
    } catch {
      throw new ConfigurationError(`environment variable FLEDGE_KUBE_SERVER: expected a URL, got ${JSON.stringify(server)}`);
    }
    return { kind: 'server', server };
  }
  if (!EKS_CLUSTER_NAME.test(cluster!)) {
    throw new ConfigurationError(
      `environment variable FLEDGE_EKS_CLUSTER: expected an EKS cluster name (up to 100 letters, digits, - and _, starting with a letter or digit), got ${JSON.stringify(cluster)}`,
    );
  }
  if (!awsRegion) throw new ConfigurationError('environment variable AWS_REGION is not set (FLEDGE_EKS_CLUSTER needs the cluster\'s region; Lambda sets it)');
  if (!AWS_REGION_NAME.test(awsRegion)) {
    throw new ConfigurationError(`environment variable AWS_REGION: expected an AWS region such as us-west-2, got ${JSON.stringify(awsRegion)}`);
  }
  return { kind: 'eks', cluster: cluster!, region: awsRegion };
}

export function configFromEnv(env: Record<string, string | undefined>): FledgeConfig {
  const metricTimeoutMs = milliseconds(env, 'FLEDGE_METRIC_TIMEOUT_MS', 10_000);
  const kubeTimeoutMs = milliseconds(env, 'FLEDGE_KUBE_TIMEOUT_MS', 10_000);
  const target = kubernetesTarget({ kubeServer: env.FLEDGE_KUBE_SERVER, eksCluster: env.FLEDGE_EKS_CLUSTER, awsRegion: env.AWS_REGION });
  return {
    manifestsDir: required(env, 'FLEDGE_MANIFESTS_DIR'),
    ...(target.kind === 'server' ? { kubeServer: target.server } : { eksCluster: target.cluster, awsRegion: target.region }),
    metricsServer: env.FLEDGE_METRICS_SERVER
      ? parseMetricsServer(env.FLEDGE_METRICS_SERVER, 'environment variable FLEDGE_METRICS_SERVER')
      : undefined,
    metricTimeoutMs,
    kubeTimeoutMs,
    notifyTopicArn: topicArn(env),
  };
}
