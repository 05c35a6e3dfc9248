// Fledge's runtime configuration, read from the environment in this one place; a bad value names its variable.
import { ConfigurationError } from '../core/errors';
import { parseMetricsServer } from '../core/spec';
import type { ProviderSpec } from '../core/spec';

export interface FledgeConfig {
  /** Folder of Canary and MetricTemplate YAML (FLEDGE_MANIFESTS_DIR). */
  readonly manifestsDir: string;
  /** Kubernetes API server URL (FLEDGE_KUBE_SERVER). */
  readonly kubeServer: string;
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

export function configFromEnv(env: Record<string, string | undefined>): FledgeConfig {
  const metricTimeoutMs = milliseconds(env, 'FLEDGE_METRIC_TIMEOUT_MS', 10_000);
  const kubeTimeoutMs = milliseconds(env, 'FLEDGE_KUBE_TIMEOUT_MS', 10_000);
  const server = required(env, 'FLEDGE_KUBE_SERVER');
  try {
    new URL(server);
  } catch {
    throw new ConfigurationError(`environment variable FLEDGE_KUBE_SERVER: expected a URL, got ${JSON.stringify(server)}`);
  }
  return {
    manifestsDir: required(env, 'FLEDGE_MANIFESTS_DIR'),
    kubeServer: server,
    metricsServer: env.FLEDGE_METRICS_SERVER
      ? parseMetricsServer(env.FLEDGE_METRICS_SERVER, 'environment variable FLEDGE_METRICS_SERVER')
      : undefined,
    metricTimeoutMs,
    kubeTimeoutMs,
    notifyTopicArn: topicArn(env),
  };
}
