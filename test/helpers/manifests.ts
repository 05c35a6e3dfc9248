// The Canary and MetricTemplate that tests and benchmarks roll `prod/web` out with: one error-rate metric read from a local web endpoint.

export interface CanaryYamlOptions {
  /** The lines under spec.analysis, before metrics (indented four spaces). */
  readonly analysis: string;
  /** The lines under spec.fledge (indented four spaces). */
  readonly fledge?: string;
  /** The lines under spec.analysis.webhooks (indented six spaces). */
  readonly webhooks?: string;
}

/** Canary prod/web with one metric, error-rate (MetricTemplate prod/error-rate), max 1. */
export function canaryYaml({ analysis, fledge, webhooks }: CanaryYamlOptions): string {
  return `apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: web
  namespace: prod
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  progressDeadlineSeconds: 60
  service:
    port: 80
  analysis:
${analysis}
    metrics:
      - name: error-rate
        templateRef:
          name: error-rate
        thresholdRange:
          max: 1
${webhooks ? `    webhooks:\n${webhooks}\n` : ''}${fledge ? `  fledge:\n${fledge}\n` : ''}`;
}

/** MetricTemplate prod/error-rate: the `web` provider reading `$.value` of `<metricsUrl>/metric/error-rate`. */
export function errorRateTemplateYaml(metricsUrl: string): string {
  return `apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: error-rate
  namespace: prod
spec:
  provider:
    type: web
    address: ${metricsUrl}
    jsonPath: $.value
  query: /metric/error-rate?workload={{ target }}&window={{ interval }}
`;
}
