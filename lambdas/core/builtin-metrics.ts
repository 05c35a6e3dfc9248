// Builtin metrics request-success-rate and request-duration: preset query templates per router and provider.
import { SpecValidationError } from './errors';
import { ISTIO_PROMETHEUS } from './builtins/istio';
import { NGINX_PROMETHEUS } from './builtins/nginx';
import type { MetricProviderType, RouterType } from './spec';

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

const PROMETHEUS: Record<RouterType, Record<BuiltinMetric, BuiltinTemplate>> = {
  gatewayapi: {
    'request-success-rate': {
      query:
        `sum(rate(http_requests_total{${POD},status!~"5.."}[{{ interval }}]))` +
        ` / sum(rate(http_requests_total{${POD}}[{{ interval }}])) * 100`,
    },
    'request-duration': {
      query: `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{${POD}}[{{ interval }}])) by (le)) * 1000`,
    },
  },
  nginx: NGINX_PROMETHEUS,
  istio: ISTIO_PROMETHEUS,
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
export function builtinTemplate(metric: BuiltinMetric, router: RouterType, provider: MetricProviderType): BuiltinTemplate {
  switch (provider) {
    case 'prometheus':
      return PROMETHEUS[router][metric];
    case 'web':
      return WEB[metric];
    case 'cloudwatch':
      // A metrics server is prometheus or web (parseMetricsServer); ALB presets through CloudWatch are still to come.
      throw new SpecValidationError(`builtin metric ${metric}: no preset for a cloudwatch metrics server; use a MetricTemplate`);
  }
}
