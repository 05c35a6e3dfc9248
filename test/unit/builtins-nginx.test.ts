// Builtin metrics for ingress-nginx: the preset Prometheus queries, rendered.
import { describe, expect, it } from 'vitest';
import { NGINX_PROMETHEUS } from '../../lambdas/core/builtins/nginx';
import { renderTemplate, templatePlaceholders, type TemplateVariables } from '../../lambdas/core/template';

const vars: TemplateVariables = {
  ingress: 'web', name: 'web', target: 'web-canary', stable: 'web', namespace: 'prod', service: 'web', interval: '1m', variables: {} };
const CANARY_REQUESTS = 'namespace="prod",ingress="web",canary!=""';

describe('NGINX_PROMETHEUS', () => {
  it('renders request-success-rate as percent non-5xx of the requests the canary backend served', () => {
    // Act
    const query = renderTemplate(NGINX_PROMETHEUS['request-success-rate'].query, vars, 'builtin');

    // Assess
    expect(query).toBe(
      `sum(rate(nginx_ingress_controller_requests{${CANARY_REQUESTS},status!~"5.*"}[1m]))` +
        ` / sum(rate(nginx_ingress_controller_requests{${CANARY_REQUESTS}}[1m])) * 100`,
    );
  });

  it('renders request-duration as the p99 of the canary requests in milliseconds', () => {
    // Act
    const query = renderTemplate(NGINX_PROMETHEUS['request-duration'].query, vars, 'builtin');

    // Assess
    expect(query).toBe(
      `histogram_quantile(0.99, sum(rate(nginx_ingress_controller_request_duration_seconds_bucket{${CANARY_REQUESTS}}[1m])) by (le)) * 1000`,
    );
  });

  it.each(Object.entries(NGINX_PROMETHEUS))('%s selects the apex Ingress by {{ ingress }} and uses no JSON path', (_metric, preset) => {
    // Act
    const placeholders = new Set(templatePlaceholders(preset.query));

    // Assess
    expect(placeholders).toEqual(new Set(['namespace', 'ingress', 'interval']));
    expect(preset.jsonPath).toBeUndefined();
  });

  it('follows the adopted Ingress (spec.fledge.route) into the ingress label', () => {
    // Act
    const query = renderTemplate(NGINX_PROMETHEUS['request-success-rate'].query, { ...vars, ingress: 'shop', namespace: 'retail' }, 'builtin');

    // Assess
    expect(query).toContain('namespace="retail",ingress="shop",canary!=""');
    expect(query).not.toContain('{{');
  });
});
