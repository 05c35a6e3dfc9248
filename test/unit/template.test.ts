// Query templating: the placeholders a MetricTemplate may use, and errors that name an unknown one.
import { describe, expect, it } from 'vitest';
import { TemplateRenderError } from '../../lambdas/core/errors';
import { renderTemplate, templatePlaceholders } from '../../lambdas/core/template';
import type { TemplateVariables } from '../../lambdas/core/template';
import { seedMetricTemplate, thrown } from './seed';

const vars: TemplateVariables = {
  name: 'web',
  ingress: 'web-public',
  target: 'web-canary',
  stable: 'web',
  namespace: 'prod',
  service: 'web-svc',
  interval: '1m',
  variables: { env: 'production', quantile: '0.95' },
};

describe('renderTemplate', () => {
  it.each([
    ['{{ target }}', 'web-canary'],
    ['{{ stable }}', 'web'],
    ['{{ namespace }}', 'prod'],
    ['{{ interval }}', '1m'],
    ['{{ service }}', 'web-svc'],
    ['{{ service }}-canary', 'web-svc-canary'],
    ['{{ variables.env }}', 'production'],
  ])('renders %s as %s', (template, rendered) => {
    expect(renderTemplate(template, vars, 'test')).toBe(rendered);
  });

  it('allows any whitespace inside the braces, or none', () => {
    expect(renderTemplate('{{target}} {{   namespace\t}} {{\n  variables.quantile\n}}', vars, 'test')).toBe('web-canary prod 0.95');
  });

  it('renders the seed MetricTemplate against the canary Deployment', () => {
    // Prepare
    const template = seedMetricTemplate();

    // Act
    const rendered = renderTemplate(template.query, vars, 'MetricTemplate prod/error-rate');

    // Assess
    expect(rendered).toBe(
      [
        '100 - sum(',
        '  rate(http_requests_total{namespace="prod",kubernetes_pod_name=~"web-canary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)?",status!~"5.."}[1m])',
        ')',
        '/',
        'sum(',
        '  rate(http_requests_total{namespace="prod",kubernetes_pod_name=~"web-canary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)?"}[1m])',
        ') * 100',
        '',
      ].join('\n'),
    );
  });

  it('inserts a variable value literally, dollar signs and all', () => {
    expect(renderTemplate('x{{ variables.re }}x', { ...vars, variables: { re: "$& $1 $$ $'" } }, 'test')).toBe("x$& $1 $$ $'x");
  });

  it('leaves text without placeholders unchanged', () => {
    expect(renderTemplate('sum(rate(up[5m])) { not a placeholder }', vars, 'test')).toBe('sum(rate(up[5m])) { not a placeholder }');
  });

  it('rejects an unknown variable, naming it and the source', () => {
    // Act
    const error = thrown(() => renderTemplate('rate(x{pod="{{ pod }}"}[1m])', vars, 'MetricTemplate prod/error-rate'));

    // Assess
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect(error.name).toBe('TemplateRenderError');
    expect(error.message).toBe(
      'MetricTemplate prod/error-rate: unknown template variable {{ pod }} (known: name, ingress, target, stable, namespace, service, interval, variables.NAME; with the alb router: targetGroup, loadBalancer)',
    );
  });

  it('rejects a variables.NAME missing from templateVariables, naming it and the defined ones', () => {
    // Act
    const error = thrown(() => renderTemplate('{{ variables.region }}', vars, 'metric error-rate'));

    // Assess
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect(error.message).toBe('metric error-rate: {{ variables.region }} is not defined in templateVariables (defined: env, quantile)');
  });

  it('says none are defined when the metric has no templateVariables', () => {
    // Act
    const error = thrown(() => renderTemplate('{{ variables.region }}', { ...vars, variables: {} }, 'metric error-rate'));

    // Assess
    expect(error.message).toBe('metric error-rate: {{ variables.region }} is not defined in templateVariables (defined: none)');
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'rejects variables.%s instead of rendering an Object property',
    (name) => {
      // Act
      const error = thrown(() => renderTemplate(`{{ variables.${name} }}`, { ...vars, variables: {} }, 'metric m'));

      // Assess
      expect(error).toBeInstanceOf(TemplateRenderError);
      expect(error.message).toBe(`metric m: {{ variables.${name} }} is not defined in templateVariables (defined: none)`);
    },
  );
});

describe('templatePlaceholders', () => {
  it('lists each placeholder as written, without the braces', () => {
    expect(templatePlaceholders('{{ target }}/{{namespace}}/{{ variables.env }}/{{ target }}')).toEqual([
      'target',
      'namespace',
      'variables.env',
      'target',
    ]);
  });

  it('returns the same answer when asked twice', () => {
    // Prepare
    const template = '{{ target }} {{ interval }}';

    // Act
    const first = templatePlaceholders(template);
    const second = templatePlaceholders(template);

    // Assess
    expect(second).toEqual(first);
    expect(first).toEqual(['target', 'interval']);
  });
});

describe('{{ name }}', () => {
  it("renders the Canary's name, as Flagger's {{ name }} does", () => {
    expect(renderTemplate('{"Value": "{{ name }}"}', vars, 'test')).toBe('{"Value": "web"}');
  });
});
