// Istio builtin metrics: request-success-rate and request-duration from Istio's standard telemetry, rendered.
import { describe, expect, it } from 'vitest';
import { BUILTIN_METRICS } from '../../lambdas/core/builtin-metrics';
import { ISTIO_PROMETHEUS } from '../../lambdas/core/builtins/istio';
import { renderTemplate, templatePlaceholders, type TemplateVariables } from '../../lambdas/core/template';

const vars: TemplateVariables = {
  ingress: 'web', name: 'web', target: 'web-canary', stable: 'web', namespace: 'prod', service: 'web', interval: '1m', variables: {} };
const CANARY = 'reporter="destination",destination_workload_namespace="prod",destination_workload="web-canary"';

describe('ISTIO_PROMETHEUS', () => {
  it('has a preset for every builtin metric and nothing else', () => {
    // Assess
    expect(Object.keys(ISTIO_PROMETHEUS).sort()).toEqual([...BUILTIN_METRICS].sort());
  });

  it('renders request-success-rate as percent non-5xx of the requests the canary workload received', () => {
    // Act
    const query = renderTemplate(ISTIO_PROMETHEUS['request-success-rate'].query, vars, 'builtin');

    // Assess
    expect(query).toBe(
      `sum(rate(istio_requests_total{${CANARY},response_code!~"5.."}[1m])) / sum(rate(istio_requests_total{${CANARY}}[1m])) * 100`,
    );
    expect(ISTIO_PROMETHEUS['request-success-rate'].jsonPath).toBeUndefined();
  });

  it('renders request-duration as the p99 of Istio\'s millisecond histogram, not scaled', () => {
    // Act
    const query = renderTemplate(ISTIO_PROMETHEUS['request-duration'].query, vars, 'builtin');

    // Assess
    expect(query).toBe(`histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{${CANARY}}[1m])) by (le))`);
  });

  it.each(Object.entries(ISTIO_PROMETHEUS))('selects %s by the canary Deployment, never the stable one', (_metric, preset) => {
    // Act
    const query = renderTemplate(preset.query, { ...vars, target: 'checkout-canary', stable: 'checkout' }, 'builtin');

    // Assess
    expect(query).toContain('destination_workload="checkout-canary"');
    expect(query).not.toMatch(/destination_workload=~?"checkout"/);
  });

  it.each(Object.entries(ISTIO_PROMETHEUS))('%s uses only the builtin template variables', (_metric, preset) => {
    // Assess
    expect(templatePlaceholders(preset.query).every((name) => ['namespace', 'target', 'interval'].includes(name))).toBe(true);
  });
});
