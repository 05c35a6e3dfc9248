// Builtin metrics for ingress-nginx on Prometheus: the canary's share of the apex Ingress's traffic, from the controller's own metrics.
import type { BuiltinMetric, BuiltinTemplate } from '../builtin-metrics';

// ingress-nginx labels a request with the Ingress whose location served it: for canary traffic
// that is still the apex Ingress (the canary Ingress only adds an alternative backend to the apex's
// locations), and `canary` names that alternative backend, empty for requests the stable Service
// served. Flagger's `{{ ingress }}` is likewise the apex (spec.ingressRef.name); Fledge's is the
// route it adopts (spec.fledge.route, else spec.ingressRef.name, else the Service name).
const CANARY_REQUESTS = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""';

export const NGINX_PROMETHEUS: Record<BuiltinMetric, BuiltinTemplate> = {
  'request-success-rate': {
    query:
      `sum(rate(nginx_ingress_controller_requests{${CANARY_REQUESTS},status!~"5.*"}[{{ interval }}]))` +
      ` / sum(rate(nginx_ingress_controller_requests{${CANARY_REQUESTS}}[{{ interval }}])) * 100`,
  },
  'request-duration': {
    query: `histogram_quantile(0.99, sum(rate(nginx_ingress_controller_request_duration_seconds_bucket{${CANARY_REQUESTS}}[{{ interval }}])) by (le)) * 1000`,
  },
};
