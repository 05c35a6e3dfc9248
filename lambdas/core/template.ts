// Query templating: `{{ name }}`, `{{ ingress }}`, `{{ target }}`, `{{ namespace }}`, `{{ interval }}`, `{{ service }}`, `{{ stable }}`, `{{ variables.NAME }}`, and the router's own.
import { TemplateRenderError } from './errors';
import type { RouterType } from './spec';

/**
 * Variables a router supplies when metrics are analysed, because only the data plane knows them:
 * the ALB router's canary target group and its load balancer, as CloudWatch dimension values
 * (`targetgroup/<name>/<id>`, `app/<name>/<id>`), found from the AWS Load Balancer Controller's
 * TargetGroupBinding for the canary Service. They are known by name when the plan is made.
 */
export const ROUTER_VARIABLES: Readonly<Record<RouterType, readonly string[]>> = {
  gatewayapi: [],
  nginx: [],
  istio: [],
  alb: ['targetGroup', 'loadBalancer'],
  kubernetes: [],
};

const routersProviding = (key: string): RouterType[] =>
  (Object.keys(ROUTER_VARIABLES) as RouterType[]).filter((router) => ROUTER_VARIABLES[router].includes(key));

/** Whether a template uses a variable that only the router can supply, at analysis time. */
export function usesRouterVariables(template: string): boolean {
  return templatePlaceholders(template).some((key) => routersProviding(key).length > 0);
}

/** Stand-ins for a router's variables, to check at plan time that a template renders. */
export function routerVariableStandIns(router: RouterType): Record<string, string> {
  return Object.fromEntries(ROUTER_VARIABLES[router].map((key) => [key, `<${key}>`]));
}

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
  /** What the rollout's router supplies (ROUTER_VARIABLES), once it has been asked; none before. */
  readonly router?: Readonly<Record<string, string>>;
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
    const providers = routersProviding(key);
    if (providers.length > 0) {
      const value = vars.router && Object.hasOwn(vars.router, key) ? vars.router[key] : undefined;
      if (value === undefined) {
        throw new TemplateRenderError(
          `${source}: {{ ${key} }} is supplied by the ${providers.join(', ')} router only (spec.provider: ${providers.join(' or ')})`,
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
          `${source}: unknown template variable {{ ${key} }} (known: name, ingress, target, stable, namespace, service, interval, variables.NAME; with the alb router: targetGroup, loadBalancer)`,
        );
    }
  });
}

/** Placeholders a template uses, to check it renders before any traffic moves. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]);
}
