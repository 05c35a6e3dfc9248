// The CloudWatch dimensions (TargetGroup, LoadBalancer) of a canary's ALB target group: its TargetGroupBinding on the cluster, then DescribeTargetGroups.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ElasticLoadBalancingV2ClientConfig } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ConfigurationError, MetricProviderError } from '../../core/errors';
import { kubernetesError } from '../kubernetes/client';

export interface CanaryTargetGroupQuery {
  readonly namespace: string;
  /** The canary Service (e.g. `web-canary`). */
  readonly service: string;
  /** The Service port as the Ingress's forward action names it: a number or a port name. */
  readonly port: number | string;
  /**
   * Labels the AWS Load Balancer Controller puts on the TargetGroupBindings of the Ingress's stack:
   * `{'ingress.k8s.aws/stack': group}` for an explicit IngressGroup, or
   * `{'ingress.k8s.aws/stack-namespace': ns, 'ingress.k8s.aws/stack-name': ingress}` otherwise.
   */
  readonly stackLabels: Readonly<Record<string, string>>;
}

/** CloudWatch dimension values for AWS/ApplicationELB metrics. */
export interface AlbDimensions {
  /** `targetgroup/<name>/<id>`: the part of the target group ARN after the account. */
  readonly targetGroup: string;
  /** `app/<name>/<id>`: the part of the load balancer ARN after `loadbalancer/`. */
  readonly loadBalancer: string;
}

export interface AlbTargetGroupsOptions {
  /** Settings for every client but the region (an endpoint and credentials, in tests). @default - the SDK's defaults: the Lambda role */
  readonly clientConfig?: Omit<ElasticLoadBalancingV2ClientConfig, 'region'>;
  /** Region of a client when a target group ARN names none. @default - the SDK's default region (AWS_REGION, as Lambda sets it) */
  readonly region?: string;
  /** Makes the client for a region (the target group ARN's), once per region. @default - an ElasticLoadBalancingV2Client with clientConfig */
  readonly createClient?: (region: string | undefined) => ElasticLoadBalancingV2Client;
  /** Time allowed for one DescribeTargetGroups, retries included. @default 5000 */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** Where the AWS Load Balancer Controller keeps TargetGroupBindings. */
export const TARGET_GROUP_BINDINGS = { group: 'elbv2.k8s.aws', version: 'v1beta1', plural: 'targetgroupbindings' } as const;

interface TargetGroupBinding {
  readonly metadata?: { readonly name?: string; readonly deletionTimestamp?: string };
  readonly spec?: {
    readonly serviceRef?: { readonly name?: string; readonly port?: number | string };
    readonly targetGroupARN?: string;
  };
}

/** arn:<partition>:elasticloadbalancing:<region>:<account>:<resource>; the region may be empty. */
const ELB_ARN = /^arn:[a-z-]+:elasticloadbalancing:([a-z0-9-]*):\d{12}:(.+)$/;
const TARGET_GROUP = /^targetgroup\/[A-Za-z0-9-]+\/[0-9a-f]+$/;
const LOAD_BALANCER = /^loadbalancer\/((app|net|gwy)\/[A-Za-z0-9-]+\/[0-9a-f]+)$/;

/** The TargetGroup dimension: `targetgroup/<name>/<id>`, the part of the target group ARN after the account. */
export function targetGroupDimension(arn: string): string {
  const resource = ELB_ARN.exec(arn)?.[2];
  if (resource === undefined || !TARGET_GROUP.test(resource)) {
    throw new MetricProviderError(
      `Not a target group ARN: ${JSON.stringify(arn)} (expected arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)`,
    );
  }
  return resource;
}

/** The LoadBalancer dimension: `app/<name>/<id>`, the part of the load balancer ARN after `loadbalancer/`. */
export function loadBalancerDimension(arn: string): string {
  const match = LOAD_BALANCER.exec(ELB_ARN.exec(arn)?.[2] ?? '');
  if (!match) {
    throw new MetricProviderError(
      `Not a load balancer ARN: ${JSON.stringify(arn)} (expected arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>)`,
    );
  }
  if (match[2] !== 'app') {
    throw new MetricProviderError(`${arn} is not an Application Load Balancer: AWS/ApplicationELB has no metrics for it`);
  }
  return match[1];
}

/** The region an ELB ARN names, or undefined when its region field is empty. */
function regionOf(arn: string): string | undefined {
  return ELB_ARN.exec(arn)?.[1] || undefined;
}

/**
 * Finds the CloudWatch dimensions of the target group the AWS Load Balancer Controller made for
 * a canary Service: the Service's TargetGroupBinding in the Ingress's stack gives the target
 * group ARN, DescribeTargetGroups its load balancer. The bindings are listed on every call (they
 * change when the Ingress does); a target group's load balancer is cached, as it never changes.
 */
export class AlbTargetGroups {
  private readonly api: CustomObjectsApi;
  private readonly clients = new Map<string, ElasticLoadBalancingV2Client>();
  /** Load balancer dimension per target group ARN; a failure is not kept. */
  private readonly loadBalancers = new Map<string, Promise<string>>();
  private readonly timeoutMs: number;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: AlbTargetGroupsOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`Elastic Load Balancing timeout: expected a positive number of milliseconds, got ${options.timeoutMs}`);
    }
  }

  async dimensionsOf(query: CanaryTargetGroupQuery): Promise<AlbDimensions> {
    const binding = await this.bindingOf(query);
    const name = `TargetGroupBinding ${query.namespace}/${binding.metadata?.name}`;
    const arn = binding.spec?.targetGroupARN;
    if (typeof arn !== 'string' || arn === '') throw new MetricProviderError(`${name} has no spec.targetGroupARN`);
    let targetGroup: string;
    try {
      targetGroup = targetGroupDimension(arn);
    } catch (error) {
      throw new MetricProviderError(`${name}: spec.targetGroupARN: ${(error as Error).message}`);
    }
    return { targetGroup, loadBalancer: await this.loadBalancerOf(arn, name) };
  }

  /**
   * The one live binding of the query's Service and port among the stack's. When the stack has
   * none, the Service's only binding in the namespace: an IngressGroup set by IngressClassParams
   * (`spec.group.name`) labels the stack with a group the Ingress itself does not name.
   */
  private async bindingOf(query: CanaryTargetGroupQuery): Promise<TargetGroupBinding> {
    const { namespace, service, port, stackLabels } = query;
    const labelSelector = Object.entries(stackLabels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    // An empty selector would take every binding in the namespace for the stack's.
    if (labelSelector === '') throw new RangeError('stackLabels: expected at least one label naming the Ingress stack');
    const forService = (bindings: TargetGroupBinding[]) =>
      bindings.filter(
        (binding) => binding.spec?.serviceRef?.name === service && binding.spec.serviceRef.port !== undefined && String(binding.spec.serviceRef.port) === String(port),
      );
    const live = await this.liveBindings(namespace, labelSelector);
    const matching = forService(live);
    const wanted = `Service ${namespace}/${service} port ${port} in the Ingress's stack (labels ${labelSelector})`;
    if (matching.length === 0) {
      const anyStack = forService(await this.liveBindings(namespace, undefined));
      if (anyStack.length === 1) return anyStack[0];
      const others = live.map((b) => `${b.metadata?.name} (Service ${b.spec?.serviceRef?.name} port ${b.spec?.serviceRef?.port})`);
      throw new MetricProviderError(
        `No TargetGroupBinding for ${wanted}: the AWS Load Balancer Controller makes one once the Ingress forwards to the Service, ` +
          `so either the canary has no target group yet or the controller is not running (the stack's bindings: ${others.join(', ') || 'none'}` +
          `${anyStack.length > 1 ? `; in other stacks: ${anyStack.map((b) => b.metadata?.name).join(', ')}` : ''})`,
      );
    }
    if (matching.length > 1) {
      throw new MetricProviderError(`${matching.length} TargetGroupBindings for ${wanted}, expected one: ${matching.map((b) => b.metadata?.name).join(', ')}`);
    }
    return matching[0];
  }

  /** The namespace's TargetGroupBindings (those with the labels, when given), less those being deleted: their target groups are on their way out. */
  private async liveBindings(namespace: string, labelSelector: string | undefined): Promise<TargetGroupBinding[]> {
    let items: TargetGroupBinding[];
    try {
      const list = (await this.api.listNamespacedCustomObject({ ...TARGET_GROUP_BINDINGS, namespace, labelSelector })) as { items?: TargetGroupBinding[] };
      items = list.items ?? [];
    } catch (err) {
      throw kubernetesError(err, `list TargetGroupBindings in ${namespace}`, {
        notFound: `TargetGroupBindings (${TARGET_GROUP_BINDINGS.group}/${TARGET_GROUP_BINDINGS.version}) are not served by the cluster: is the AWS Load Balancer Controller installed?`,
      });
    }
    return items.filter((binding) => !binding.metadata?.deletionTimestamp);
  }

  private loadBalancerOf(arn: string, binding: string): Promise<string> {
    let cached = this.loadBalancers.get(arn);
    if (!cached) {
      // Concurrent callers share one DescribeTargetGroups.
      const entry = this.describe(arn, binding);
      cached = entry;
      this.loadBalancers.set(arn, entry);
      entry.catch(() => {
        if (this.loadBalancers.get(arn) === entry) this.loadBalancers.delete(arn);
      });
    }
    return cached;
  }

  /** The load balancer dimension of a target group's one load balancer. */
  private async describe(arn: string, binding: string): Promise<string> {
    const call = `DescribeTargetGroups for ${arn} (${binding})`;
    let loadBalancerArns: string[];
    try {
      const output = await this.client(regionOf(arn)).send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }), {
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
      const found = (output.TargetGroups ?? []).find((group) => group.TargetGroupArn === arn);
      if (!found) throw new MetricProviderError(`${call} did not return the target group`);
      loadBalancerArns = found.LoadBalancerArns ?? [];
    } catch (error) {
      if (error instanceof MetricProviderError) throw error;
      if (!(error instanceof Error)) throw new MetricProviderError(`${call} failed: ${String(error)}`);
      if (error.name === 'AbortError' || error.name === 'TimeoutError') throw new MetricProviderError(`${call} did not answer within ${this.timeoutMs} ms`);
      if (error.name === 'TargetGroupNotFoundException') {
        throw new MetricProviderError(`Target group ${arn} (${binding}) not found: it was deleted, or it is in another account or region than Fledge looked in`);
      }
      throw new MetricProviderError(`${call} failed: ${error.name}: ${error.message.trim()}`);
    }
    if (loadBalancerArns.length === 0) {
      throw new MetricProviderError(`Target group ${arn} (${binding}) is not attached to a load balancer yet: no listener rule forwards to it`);
    }
    if (loadBalancerArns.length > 1) {
      throw new MetricProviderError(`Target group ${arn} (${binding}) is attached to ${loadBalancerArns.length} load balancers, expected one: ${loadBalancerArns.join(', ')}`);
    }
    return loadBalancerDimension(loadBalancerArns[0]);
  }

  private client(arnRegion: string | undefined): ElasticLoadBalancingV2Client {
    const region = arnRegion ?? this.options.region;
    const key = region ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = this.options.createClient?.(region) ?? new ElasticLoadBalancingV2Client({ ...this.options.clientConfig, ...(region ? { region } : {}) });
      this.clients.set(key, client);
    }
    return client;
  }
}
