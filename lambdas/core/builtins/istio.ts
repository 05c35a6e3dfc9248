// Builtin metrics for the Istio router on Prometheus: Istio's standard telemetry, as Flagger's istio observer queries it.
import type { BuiltinMetric, BuiltinTemplate } from '../builtin-metrics';

// Reported by the canary's own sidecar (reporter="destination"), so every request that reached a
// canary pod counts, whichever gateway or mesh client sent it. Exact match on the workload: Fledge's
// target is always one Deployment's name, where Flagger's `=~` takes a pattern.
const CANARY = 'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"';

export const ISTIO_PROMETHEUS: Record<BuiltinMetric, BuiltinTemplate> = {
  'request-success-rate': {
    query:
      `sum(rate(istio_requests_total{${CANARY},response_code!~"5.."}[{{ interval }}]))` +
      ` / sum(rate(istio_requests_total{${CANARY}}[{{ interval }}])) * 100`,
  },
  // Istio's histogram is in milliseconds already, the unit request-duration is judged in.
  'request-duration': {
    query: `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{${CANARY}}[{{ interval }}])) by (le))`,
  },
};
