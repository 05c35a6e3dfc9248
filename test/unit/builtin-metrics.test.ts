// Builtin metrics: request-success-rate and request-duration as preset templates per router and provider.
import { describe, expect, it } from 'vitest';
import { builtinTemplate, isBuiltinMetric } from '../../lambdas/core/builtin-metrics';
import { renderTemplate } from '../../lambdas/core/template';
import type { TemplateVariables } from '../../lambdas/core/template';

const vars: TemplateVariables = {
  ingress: 'web', name: 'web', target: 'web-canary', stable: 'web', namespace: 'prod', service: 'web', interval: '1m', variables: {} };
const POD = 'namespace="prod",kubernetes_pod_name=~"web-canary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

/** The pod-name regex a rendered PromQL query selects by, anchored as Prometheus anchors it. */
function podSelector(query: string): RegExp {
  const pattern = /kubernetes_pod_name=~"([^"]+)"/.exec(query)![1];
  return new RegExp(`^(?:${pattern})$`);
}

describe('isBuiltinMetric', () => {
  it.each([
    ['request-success-rate', true],
    ['request-duration', true],
    ['error-rate', false],
    ['Request-Duration', false],
  ])('%s is builtin: %s', (name, builtin) => {
    expect(isBuiltinMetric(name)).toBe(builtin);
  });
});

describe('builtinTemplate', () => {
  it('renders request-success-rate for Gateway API on Prometheus as percent non-5xx of the canary pods', () => {
    // Act
    const preset = builtinTemplate('request-success-rate', 'gatewayapi', 'prometheus');

    // Assess
    expect(renderTemplate(preset.query, vars, 'builtin')).toBe(
      `sum(rate(http_requests_total{${POD},status!~"5.."}[1m])) / sum(rate(http_requests_total{${POD}}[1m])) * 100`,
    );
    expect(preset.jsonPath).toBeUndefined();
  });

  it('renders request-duration for Gateway API on Prometheus as p99 in milliseconds', () => {
    // Act
    const preset = builtinTemplate('request-duration', 'gatewayapi', 'prometheus');

    // Assess
    expect(renderTemplate(preset.query, vars, 'builtin')).toBe(
      `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{${POD}}[1m])) by (le)) * 1000`,
    );
  });

  it('selects the canary pods and not the stable ones', () => {
    // Prepare
    const query = renderTemplate(builtinTemplate('request-duration', 'gatewayapi', 'prometheus').query, vars, 'builtin');

    // Act
    const selector = podSelector(query);

    // Assess
    expect(selector.test('web-canary-5d8c7b9f4-x2x7q')).toBe(true);
    expect(selector.test('web-5d8c7b9f4-x2x7q')).toBe(false);
  });

  it.each([
    ['request-success-rate', '$.successRate'],
    ['request-duration', '$.p99Ms'],
  ] as const)('renders %s for the web provider as the stats path with JSON path %s', (metric, jsonPath) => {
    // Act
    const preset = builtinTemplate(metric, 'gatewayapi', 'web');

    // Assess
    expect(renderTemplate(preset.query, vars, 'builtin')).toBe('/stats?namespace=prod&workload=web-canary&interval=1m');
    expect(preset.jsonPath).toBe(jsonPath);
  });
});
