// Query templating: `{{ name }}`, `{{ ingress }}`, `{{ target }}`, `{{ namespace }}`, `{{ interval }}`, `{{ service }}`, `{{ stable }}`, `{{ variables.NAME }}`.
import { TemplateRenderError } from './errors';

export interface TemplateVariables {
  /** The Canary's name (metadata.name), as Flagger's `{{ name }}`. */
  readonly name: string;
  /** The routing object Fledge shifts traffic on (spec.fledge.route): for ingress-nginx the user's Ingress, as Flagger's `{{ ingress }}`. */
  readonly ingress: string;
  /** The workload under analysis: the canary Deployment (`web-canary`), as Flagger's target is its canary. */
  readonly target: string;
  /** The stable Deployment (`web`), the role Flagger's `{{ target }}-primary` plays. */
  readonly stable: string;
  readonly namespace: string;
  /** The stable Service name (spec.service.name); the canary's is `{{ service }}-canary`. */
  readonly service: string;
  /** The metric's window as written in the spec ("1m"). */
  readonly interval: string;
  readonly variables: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** Render a query template; an unknown placeholder is an error naming it, never an empty string. */
export function renderTemplate(template: string, vars: TemplateVariables, source: string): string {
  return template.replace(PLACEHOLDER, (_match, key: string) => {
    if (key.startsWith('variables.')) {
      const name = key.slice('variables.'.length);
      // Own keys only: `variables.constructor` must not render Object.prototype's function.
      const value = Object.hasOwn(vars.variables, name) ? vars.variables[name] : undefined;
      if (value === undefined) {
        const known = Object.keys(vars.variables);
        throw new TemplateRenderError(
          `${source}: {{ ${key} }} is not defined in templateVariables (defined: ${known.length ? known.join(', ') : 'none'})`,
        );
      }
      return value;
    }
    switch (key) {
      case 'name':
      case 'ingress':
      case 'target':
      case 'stable':
      case 'namespace':
      case 'service':
      case 'interval':
        return vars[key];
      default:
        throw new TemplateRenderError(
          `${source}: unknown template variable {{ ${key} }} (known: name, ingress, target, stable, namespace, service, interval, variables.NAME)`,
        );
    }
  });
}

/** Placeholders a template uses, to check it renders before any traffic moves. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]);
}
