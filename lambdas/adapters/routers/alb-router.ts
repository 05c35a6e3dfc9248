// Traffic router for the AWS Load Balancer Controller: weighted target groups for the stable and the canary Service in an ALB forward action on the user's Ingress.
import { NetworkingV1Api, type KubeConfig, type V1Ingress, type V1IngressBackend, type V1ServiceBackendPort } from '@kubernetes/client-node';
import { ConfigurationError, TargetNotFoundError, TrafficDriftError } from '../../core/errors';
import type { RolloutTarget } from '../../ports/target';
import type { TrafficRouter, Weights } from '../../ports/traffic-router';
import { kubernetesError, statusCodeOf } from '../kubernetes/client';
import type { AlbDimensions, CanaryTargetGroupQuery } from './alb-target-groups';
import { agreedWeights, percentages, retryOnConflict } from './route-writes';

export interface AlbRouterOptions {
  /** Read-modify-write attempts when the Ingress changes under us (409). @default 5 */
  readonly conflictAttempts?: number;
  /** First backoff between attempts, doubled each time. @default 25 */
  readonly backoffMs?: number;
  /** The controller's `--annotations-prefix`. @default 'alb.ingress.kubernetes.io' */
  readonly annotationsPrefix?: string;
  /**
   * Finds the CloudWatch dimensions of the canary's target group (AlbTargetGroups), for the
   * `{{ targetGroup }}` and `{{ loadBalancer }}` template variables.
   * @default - none: a template that uses them fails its check, saying so
   */
  readonly targetGroups?: { dimensionsOf(query: CanaryTargetGroupQuery): Promise<AlbDimensions> };
}

/** The port the stable Service's backends had before Fledge sent them through its action, as JSON (`80`, `"http"`): finalize restores it. */
export const ALB_RESTORE_PORT_ANNOTATION = 'fledge.dev/alb-restore-port';

/** The port name that makes the controller read `actions.<service name>` instead of sending to the Service. */
const USE_ANNOTATION = 'use-annotation';

/** The largest weight an ALB target group takes. */
const MAX_TARGET_GROUP_WEIGHT = 999;

/** A Service port as the controller's target groups name it: a number or a port name. */
export type ServicePort = number | string;

/** What the Ingress's TargetGroupBindings need to be found: the canary target group's port and the controller's stack labels. */
export interface CanaryBackend {
  readonly port: ServicePort;
  readonly stackLabels: Record<string, string>;
}

interface TargetGroup {
  serviceName?: string;
  servicePort?: ServicePort;
  weight?: number;
  targetGroupARN?: string;
  targetGroupName?: string;
  [field: string]: unknown;
}

interface ForwardAction {
  type: 'forward';
  forwardConfig: { targetGroups: TargetGroup[]; [field: string]: unknown };
  [field: string]: unknown;
}

/** The action annotation read and checked: the stable entry always, the canary entry when there is one. */
interface ParsedAction {
  readonly action: ForwardAction;
  readonly stable: TargetGroup;
  readonly canary: TargetGroup | undefined;
}

/** One place the Ingress sends to the stable Service: a path or the default backend. */
interface Site {
  readonly backend: V1IngressBackend;
  readonly where: string;
}

const ingressName = (target: RolloutTarget): string => `Ingress ${target.namespace}/${target.route}`;
const adoptionHint = (target: RolloutTarget): string =>
  `Fledge shifts traffic with an ALB forward action on an existing Ingress whose paths send to Service ${target.service}, directly or through the action actions.${target.service} (port name ${USE_ANNOTATION})`;

const portOf = (port: V1ServiceBackendPort | undefined): ServicePort | undefined => port?.number ?? port?.name;
const backendPort = (port: ServicePort): V1ServiceBackendPort => (typeof port === 'number' ? { number: port } : { name: port });
const throughAction = (site: Site): boolean => site.backend.service?.port?.name === USE_ANNOTATION;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A target group that is this Service, not an ARN or a target group name that happens to sit beside a serviceName. */
const isService = (group: TargetGroup, service: string): boolean =>
  group.serviceName === service && group.targetGroupARN === undefined && group.targetGroupName === undefined;

const describeGroup = (group: TargetGroup): string =>
  group.targetGroupARN !== undefined
    ? `targetGroupARN ${String(group.targetGroupARN)}`
    : group.targetGroupName !== undefined
      ? `targetGroupName ${String(group.targetGroupName)}`
      : `Service ${String(group.serviceName)}`;

const isWeight = (weight: unknown): weight is number => Number.isInteger(weight) && (weight as number) >= 0 && (weight as number) <= MAX_TARGET_GROUP_WEIGHT;

/** Every backend of the Ingress that names the stable Service, by port number, port name or use-annotation. */
function stableSites(ingress: V1Ingress, service: string): Site[] {
  const sites: Site[] = [];
  const fallback = ingress.spec?.defaultBackend;
  if (fallback?.service?.name === service) sites.push({ backend: fallback, where: 'the default backend' });
  for (const rule of ingress.spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      if (path.backend?.service?.name === service) sites.push({ backend: path.backend, where: `path ${rule.host ?? ''}${path.path ?? ''}` });
    }
  }
  return sites;
}

export class AlbRouter implements TrafficRouter {
  private readonly api: NetworkingV1Api;
  private readonly conflictAttempts: number;
  private readonly backoffMs: number;
  private readonly prefix: string;
  private readonly targetGroups: AlbRouterOptions['targetGroups'];

  constructor(kubeConfig: KubeConfig, options: AlbRouterOptions = {}) {
    this.api = kubeConfig.makeApiClient(NetworkingV1Api);
    this.conflictAttempts = options.conflictAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 25;
    this.prefix = options.annotationsPrefix ?? 'alb.ingress.kubernetes.io';
    this.targetGroups = options.targetGroups;
  }

  async reconcile(target: RolloutTarget): Promise<void> {
    // An existing canary target group keeps its weight: reconcile adopts, it does not move traffic.
    await this.update(target, 'add the canary target group to', (ingress) => {
      this.adopt(ingress, target);
    });
  }

  async setWeights(target: RolloutTarget, weights: Weights): Promise<void> {
    const { primary, canary } = weights;
    if (!Number.isInteger(canary) || canary < 0 || canary > 100 || primary !== 100 - canary) {
      throw new RangeError(`${ingressName(target)}: Fledge sets the ALB target group weights as whole percentages summing to 100; got ${primary}/${canary}`);
    }
    await this.update(target, `set weights ${primary}/${canary} on`, (ingress) => {
      this.adopt(ingress, target, weights);
    });
  }

  async getWeights(target: RolloutTarget): Promise<Weights> {
    // A missing Ingress is an error, not 100/0: Initialize relies on this read to find that nothing routes.
    const ingress = await this.read(target);
    const sites = this.sitesOf(ingress, target);
    const through = sites.filter(throughAction);
    if (through.length === 0) return { primary: 100, canary: 0 };
    const { stable, canary } = this.parseAction(ingress, target, through);
    // Without a canary target group the stable one is the only one, and takes everything whatever its weight.
    let split: Weights = { primary: 100, canary: 0 };
    if (canary) {
      for (const group of [stable, canary]) {
        if (!isWeight(group.weight)) {
          throw new TrafficDriftError(
            `${ingressName(target)}: annotation ${this.actionKey(target)} gives ${describeGroup(group)} weight ${JSON.stringify(group.weight ?? null)}, not a whole number from 0 to ${MAX_TARGET_GROUP_WEIGHT}`,
          );
        }
      }
      split = percentages(stable.weight!, canary.weight!);
    }
    // Paths that still send straight to the stable Service give it all of their traffic.
    const perSite = sites.map((site) => (throughAction(site) ? split : { primary: 100, canary: 0 }));
    return agreedWeights(
      perSite,
      (i) => sites[i].where,
      `${ingressName(target)}: backends to Service ${target.service} split traffic differently (some go through action ${target.service}, some straight to the Service)`,
    );
  }

  async finalize(target: RolloutTarget): Promise<void> {
    await this.update(target, `restore 100% to Service ${target.service} on`, (ingress) => {
      const annotations = ingress.metadata?.annotations ?? {};
      const through = stableSites(ingress, target.service).filter(throughAction);
      if (annotations[ALB_RESTORE_PORT_ANNOTATION] !== undefined) {
        // Fledge converted this Ingress: back to plain backends, its action and its mark removed.
        const port = this.restorePort(ingress, target);
        for (const site of through) site.backend.service = { name: target.service, port: backendPort(port) };
        delete annotations[this.actionKey(target)];
        delete annotations[ALB_RESTORE_PORT_ANNOTATION];
        if (Object.keys(annotations).length === 0) delete ingress.metadata!.annotations;
        return;
      }
      // The user's own action: only the canary target group goes, the stable one takes everything.
      if (through.length === 0) return;
      const { action, stable, canary } = this.parseAction(ingress, target, through);
      if (!canary) return;
      const groups = action.forwardConfig.targetGroups;
      groups.splice(groups.indexOf(canary), 1);
      stable.weight = 100;
      annotations[this.actionKey(target)] = JSON.stringify(action);
    });
  }

  /**
   * The port of the canary target group and the labels the controller puts on this Ingress's
   * TargetGroupBindings (`ingress.k8s.aws/stack` for an explicit group, the namespace and name
   * otherwise). Read from the Ingress as reconcile makes it; nothing is written.
   */
  async canaryBackend(target: RolloutTarget): Promise<CanaryBackend> {
    const ingress = await this.read(target);
    const group = ingress.metadata?.annotations?.[`${this.prefix}/group.name`];
    const port = this.adopt(ingress, target);
    const stackLabels: Record<string, string> = group
      ? { 'ingress.k8s.aws/stack': group }
      : { 'ingress.k8s.aws/stack-namespace': target.namespace, 'ingress.k8s.aws/stack-name': target.route };
    return { port, stackLabels };
  }

  /** `{{ targetGroup }}` and `{{ loadBalancer }}`: the canary target group of this Ingress's load balancer, as CloudWatch dimension values. */
  async metricVariables(target: RolloutTarget): Promise<Readonly<Record<string, string>>> {
    if (!this.targetGroups) throw new ConfigurationError('this ALB router was built without a target group lookup (AlbRouterOptions.targetGroups)');
    const { port, stackLabels } = await this.canaryBackend(target);
    const { targetGroup, loadBalancer } = await this.targetGroups.dimensionsOf({
      namespace: target.namespace,
      service: target.canaryService,
      port,
      stackLabels,
    });
    return { targetGroup, loadBalancer };
  }

  private actionKey(target: RolloutTarget): string {
    return `${this.prefix}/actions.${target.service}`;
  }

  /**
   * Change the Ingress read into the form Fledge shifts traffic with: every backend to the stable
   * Service through the action, the action forwarding to the stable and the canary target groups
   * (canary added at weight 0, an existing one kept), and the weights when given. Returns the
   * canary target group's port. Throws, before anything is written, on what it cannot read.
   */
  private adopt(ingress: V1Ingress, target: RolloutTarget, weights?: Weights): ServicePort {
    const annotations = (ingress.metadata!.annotations ??= {});
    const key = this.actionKey(target);
    const sites = this.sitesOf(ingress, target);
    const direct = sites.filter((site) => !throughAction(site));
    const through = sites.filter(throughAction);
    const marked = annotations[ALB_RESTORE_PORT_ANNOTATION] !== undefined;

    if (through.length === 0) {
      // Plain: Fledge's own action, and a mark holding the port for finalize.
      const port = this.commonPort(direct, target);
      if (annotations[key] !== undefined && !marked) {
        throw new TargetNotFoundError(
          `${ingressName(target)} has annotation ${key}, which none of its backends uses: Fledge writes its own action there and will not overwrite yours; remove it, or send the paths to Service ${target.service} through it (port name ${USE_ANNOTATION})`,
        );
      }
      const action: ForwardAction = {
        type: 'forward',
        forwardConfig: {
          targetGroups: [
            { serviceName: target.service, servicePort: port, weight: 100 },
            { serviceName: target.canaryService, servicePort: port, weight: 0 },
          ],
        },
      };
      annotations[key] = JSON.stringify(action);
      annotations[ALB_RESTORE_PORT_ANNOTATION] = JSON.stringify(port);
    } else if (direct.length > 0) {
      // Some backends through the action, some straight to the Service: only Fledge's own conversion is completed.
      const port = this.commonPort(direct, target);
      if (!marked) {
        throw new TargetNotFoundError(
          `${ingressName(target)} sends ${through.map((s) => s.where).join(', ')} to Service ${target.service} through action ${target.service} and ${direct.map((s) => s.where).join(', ')} straight to it: Fledge would shift only part of the traffic; send them all through the action (port name ${USE_ANNOTATION})`,
        );
      }
      const restore = this.restorePort(ingress, target);
      if (port !== restore) {
        throw new TrafficDriftError(
          `${ingressName(target)}: ${direct.map((s) => s.where).join(', ')} send to Service ${target.service} on port ${JSON.stringify(port)}, but Fledge sent its other backends through action ${target.service} from port ${JSON.stringify(restore)} (${ALB_RESTORE_PORT_ANNOTATION})`,
        );
      }
    }
    for (const site of direct) site.backend.service = { name: target.service, port: { name: USE_ANNOTATION } };

    const { action, stable, canary: existing } = this.parseAction(ingress, target, sites);
    const before = JSON.stringify(action);
    let canary = existing;
    if (!canary) {
      canary = { serviceName: target.canaryService, servicePort: stable.servicePort, weight: 0 };
      const groups = action.forwardConfig.targetGroups;
      groups.splice(groups.indexOf(stable) + 1, 0, canary);
    }
    // The controller needs a weight on each of several target groups.
    if (stable.weight === undefined) stable.weight = 100;
    if (canary.weight === undefined) canary.weight = 0;
    if (weights) {
      stable.weight = weights.primary;
      canary.weight = weights.canary;
    }
    if (JSON.stringify(action) !== before) annotations[key] = JSON.stringify(action);
    return canary.servicePort!;
  }

  /** The backends to the stable Service; none is a route Fledge cannot shift. */
  private sitesOf(ingress: V1Ingress, target: RolloutTarget): Site[] {
    const sites = stableSites(ingress, target.service);
    if (sites.length === 0) {
      throw new TargetNotFoundError(`${ingressName(target)} has no path with a backend to Service ${target.service}: ${adoptionHint(target)}`);
    }
    return sites;
  }

  /** The one port the backends name: the action forwards to one port of each Service. */
  private commonPort(sites: readonly Site[], target: RolloutTarget): ServicePort {
    const ports = sites.map((site) => portOf(site.backend.service?.port));
    const distinct = new Set(ports.map((port) => JSON.stringify(port ?? null)));
    if (distinct.size !== 1 || ports[0] === undefined) {
      throw new TargetNotFoundError(
        `${ingressName(target)} sends to Service ${target.service} on different ports (${sites.map((s, i) => `${s.where}: ${JSON.stringify(ports[i] ?? null)}`).join(', ')}): one ALB action forwards to one port of each Service; make its backends name the same port`,
      );
    }
    return ports[0];
  }

  /** The port Fledge's mark holds. */
  private restorePort(ingress: V1Ingress, target: RolloutTarget): ServicePort {
    const raw = ingress.metadata?.annotations?.[ALB_RESTORE_PORT_ANNOTATION] ?? '';
    let port: unknown;
    try {
      port = JSON.parse(raw);
    } catch {
      port = undefined;
    }
    if ((typeof port === 'number' && Number.isInteger(port) && port > 0) || (typeof port === 'string' && port !== '')) return port;
    throw new TrafficDriftError(`${ingressName(target)}: annotation ${ALB_RESTORE_PORT_ANNOTATION} is ${JSON.stringify(raw)}, not a Service port number or name as Fledge wrote it`);
  }

  /**
   * The action the backends go through, checked: a forward to target groups of the stable Service
   * (exactly one) and the canary Service (at most one), nothing else. What it cannot read is never
   * overwritten: a refusal names the annotation, as drift when Fledge converted this Ingress.
   */
  private parseAction(ingress: V1Ingress, target: RolloutTarget, through: readonly Site[]): ParsedAction {
    const key = this.actionKey(target);
    const raw = ingress.metadata?.annotations?.[key];
    const marked = ingress.metadata?.annotations?.[ALB_RESTORE_PORT_ANNOTATION] !== undefined;
    const refuse = (problem: string): Error => {
      const message = `${ingressName(target)}: annotation ${key} ${problem}; Fledge will not overwrite an action it cannot shift traffic with`;
      return marked ? new TrafficDriftError(`${message} (it was changed since Fledge wrote it)`) : new TargetNotFoundError(message);
    };
    if (raw === undefined) throw refuse(`is missing, yet backends use it (${through.map((s) => s.where).join(', ')})`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw refuse(`is not valid JSON (${(err as Error).message})`);
    }
    if (!isObject(parsed) || parsed.type !== 'forward') {
      throw refuse(`is not a forward action (type ${JSON.stringify(isObject(parsed) ? (parsed.type ?? null) : null)})`);
    }
    if (parsed.targetGroupARN !== undefined) throw refuse(`forwards to targetGroupARN ${String(parsed.targetGroupARN)}, not to Services`);
    const groups = isObject(parsed.forwardConfig) ? parsed.forwardConfig.targetGroups : undefined;
    if (!Array.isArray(groups) || !groups.every(isObject)) throw refuse('has no forwardConfig.targetGroups list');
    const action = parsed as ForwardAction;
    const other = action.forwardConfig.targetGroups.find((group) => !isService(group, target.service) && !isService(group, target.canaryService));
    if (other) throw refuse(`forwards to ${describeGroup(other)}: Fledge shifts traffic only between Service ${target.service} and Service ${target.canaryService}`);
    const stables = action.forwardConfig.targetGroups.filter((group) => isService(group, target.service));
    const canaries = action.forwardConfig.targetGroups.filter((group) => isService(group, target.canaryService));
    if (stables.length !== 1) throw refuse(stables.length === 0 ? `has no target group for Service ${target.service}` : `lists Service ${target.service} more than once`);
    if (canaries.length > 1) throw refuse(`lists Service ${target.canaryService} more than once`);
    for (const group of [...stables, ...canaries]) {
      if (typeof group.servicePort !== 'number' && typeof group.servicePort !== 'string') throw refuse(`has no servicePort for ${describeGroup(group)}`);
    }
    return { action, stable: stables[0], canary: canaries[0] };
  }

  private async read(target: RolloutTarget): Promise<V1Ingress> {
    try {
      return await this.api.readNamespacedIngress({ name: target.route, namespace: target.namespace });
    } catch (err) {
      throw kubernetesError(err, `read ${ingressName(target)}`, { notFound: `${ingressName(target)} not found: ${adoptionHint(target)}` });
    }
  }

  /**
   * Read, change, and write back in one PUT with the resourceVersion read, only when the
   * annotations or the spec differ. A 409 means the Ingress changed since the read: read again.
   */
  private async update(target: RolloutTarget, action: string, change: (ingress: V1Ingress) => void): Promise<void> {
    const snapshot = (ingress: V1Ingress): string => JSON.stringify({ annotations: ingress.metadata?.annotations ?? {}, spec: ingress.spec });
    await retryOnConflict(
      this.conflictAttempts,
      this.backoffMs,
      async () => {
        const ingress = await this.read(target);
        const before = snapshot(ingress);
        change(ingress);
        if (snapshot(ingress) === before) return 'done';
        try {
          await this.api.replaceNamespacedIngress({ name: target.route, namespace: target.namespace, body: ingress });
          return 'done';
        } catch (err) {
          if (statusCodeOf(err) === 409) return 'conflict';
          throw kubernetesError(err, `${action} ${ingressName(target)}`, { notFound: `${ingressName(target)} not found: ${adoptionHint(target)}` });
        }
      },
      { action: `${action} ${ingressName(target)}`, noun: 'Ingress' },
    );
  }
}
