// Builtin metrics request-success-rate and request-duration: preset query templates per router and provider.
import { albCloudWatchQuery } from './builtins/alb';
import { SpecValidationError } from './errors';
import { ISTIO_PROMETHEUS } from './builtins/istio';
import { NGINX_PROMETHEUS } from './builtins/nginx';
import { DEFAULT_CLOUDWATCH_LAG_SECONDS } from './spec';
import type { MetricProviderType, ProviderSpec, RouterType } from './spec';

export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

export interface BuiltinTemplate {
  readonly query: string;
  /** For the web provider: where the value sits in the JSON answer. */
  readonly jsonPath?: string;
}

// The app's own metrics, labelled by pod as the Prometheus Kubernetes pod discovery labels them,
// as Flagger's builtins do for routers that have no metrics of their own.
const POD = 'namespace="{{ namespace }}",kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

/** Routers whose builtins run on the metrics server; ALB's run on CloudWatch (albBuiltin). */
export type MetricsServerRouter = Exclude<RouterType, 'alb'>;

/** The app's own request counter and latency histogram, for routers that have no metrics of their own. */
const APP_PROMETHEUS: Record<BuiltinMetric, BuiltinTemplate> = {
  'request-success-rate': {
    query:
      `sum(rate(http_requests_total{${POD},status!~"5.."}[{{ interval }}]))` +
      ` / sum(rate(http_requests_total{${POD}}[{{ interval }}])) * 100`,
  },
  'request-duration': {
    query: `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{${POD}}[{{ interval }}])) by (le)) * 1000`,
  },
};

const PROMETHEUS: Record<MetricsServerRouter, Record<BuiltinMetric, BuiltinTemplate>> = {
  gatewayapi: APP_PROMETHEUS,
  nginx: NGINX_PROMETHEUS,
  istio: ISTIO_PROMETHEUS,
  kubernetes: APP_PROMETHEUS,
};

// A web metrics server answers GET /stats?namespace=&workload=&interval= with
// {successRate, errorRate, p50Ms, p95Ms, p99Ms, requests}, each null when there was no traffic.
const WEB_STATS = '/stats?namespace={{ namespace }}&workload={{ target }}&interval={{ interval }}';
const WEB: Record<BuiltinMetric, BuiltinTemplate> = {
  'request-success-rate': { query: WEB_STATS, jsonPath: '$.successRate' },
  'request-duration': { query: WEB_STATS, jsonPath: '$.p99Ms' },
};

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/** The preset template of a builtin metric for a router and the metrics server's provider type. */
export function builtinTemplate(metric: BuiltinMetric, router: MetricsServerRouter, provider: MetricProviderType): BuiltinTemplate {
  switch (provider) {
    case 'prometheus':
      return PROMETHEUS[router][metric];
    case 'web':
      return WEB[metric];
    case 'cloudwatch':
      // A metrics server is prometheus or web (parseMetricsServer); ALB's builtins are albBuiltin's.
      throw new SpecValidationError(`builtin metric ${metric}: no preset for a cloudwatch metrics server; use a MetricTemplate`);
  }
}

/** CloudWatch in the deployment's region, the window ending the default publication lag before the analysis. */
export const ALB_BUILTIN_PROVIDER: ProviderSpec = { type: 'cloudwatch', lagSeconds: DEFAULT_CLOUDWATCH_LAG_SECONDS };

/**
 * A builtin metric on the ALB router: the canary target group's CloudWatch metrics, whatever the
 * metrics server. ALB publishes per minute, so the metric's interval must be whole minutes.
 */
export function albBuiltin(metric: BuiltinMetric, intervalSeconds: number): { provider: ProviderSpec; query: string } | { issue: string } {
  if (intervalSeconds % 60 !== 0) {
    return { issue: `interval: ALB publishes its metrics per minute; builtin ${metric} on the alb router needs whole minutes, got ${intervalSeconds}s` };
  }
  return { provider: ALB_BUILTIN_PROVIDER, query: albCloudWatchQuery(metric, intervalSeconds) };
}
