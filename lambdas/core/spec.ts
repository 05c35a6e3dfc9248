// Flagger's Canary and MetricTemplate (flagger.app/v1beta1) as Fledge reads them: schema, defaults, path-named errors.
import { z } from 'zod';
import { checkCloudWatchQueryTemplate } from './cloudwatch-query';
import { parseDurationSeconds } from './duration';
import { SpecValidationError } from './errors';
import { hasUrlCredentials, showValue } from './show-value';

export const FLAGGER_API_VERSION = 'flagger.app/v1beta1';

/**
 * Each value spec.provider may take that Fledge drives, and the router it names: Flagger's
 * spellings, and `alb` (the AWS Load Balancer Controller's weighted target groups, which Flagger lacks).
 */
const ROUTERS: Readonly<Record<string, RouterType>> = {
  'gatewayapi:v1': 'gatewayapi',
  'gatewayapi:v1beta1': 'gatewayapi',
  gatewayapi: 'gatewayapi',
  nginx: 'nginx',
  istio: 'istio',
  alb: 'alb',
  kubernetes: 'kubernetes',
};
export const SUPPORTED_ROUTERS = Object.keys(ROUTERS);
/** Router used when a Canary has no spec.provider (Flagger takes it from its controller flag). */
export const DEFAULT_ROUTER = 'gatewayapi:v1';
/** Metric providers a MetricTemplate (or the metrics server for builtins) can use. */
export const SUPPORTED_METRIC_PROVIDERS = ['prometheus', 'web', 'cloudwatch'] as const;
export type MetricProviderType = (typeof SUPPORTED_METRIC_PROVIDERS)[number];
export type RouterType = 'gatewayapi' | 'nginx' | 'istio' | 'alb' | 'kubernetes';
/** Flagger webhook types Fledge calls: before the first shift, at the start of every bake, after the end. */
export const SUPPORTED_WEBHOOK_TYPES = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
  'event',
] as const;
export type WebhookType = (typeof SUPPORTED_WEBHOOK_TYPES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Header names that carry credentials; with URL userinfo, refused in manifests. */
const CREDENTIAL_HEADER = /authorization|cookie|token|secret|password|api-?key|x-api/i;
const CREDENTIALS =
  'credentials do not belong in a manifest, where the execution history would carry them; ' +
  'put them in an AWS Secrets Manager secret and name it in spec.provider.secretRef';
/**
 * How long CloudWatch takes to publish a minute's data in full, by default: the newest minute of
 * Application Load Balancer metrics is often incomplete, and a partial minute reads as a dip.
 */
export const DEFAULT_CLOUDWATCH_LAG_SECONDS = 60;
const MAX_CLOUDWATCH_LAG_SECONDS = 3600;
/** An Amazon Managed Service for Prometheus workspace endpoint names its region: aps-workspaces.<region>.amazonaws.com. */
const AMP_HOST = /^aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** A Secrets Manager secret's name, or its ARN. */
const SECRET_NAME = /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$/;
/** Step Functions waits whole seconds; a day is the longest bake Fledge plans. */
const MAX_INTERVAL_SECONDS = 24 * 3600;
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const name = z
  .string({ error: 'expected a name' })
  .max(63, { error: 'expected at most 63 characters' })
  .regex(DNS_LABEL, { error: 'expected a lowercase DNS label (a-z, 0-9, "-")' });

const duration = z
  .string({ error: 'expected a duration like "1m" or "30s"' })
  .refine((value) => (parseDurationSeconds(value) ?? 0) > 0, { error: 'expected a duration like "1m" or "30s"' });

const weight = z
  .number({ error: 'expected a number between 1 and 100' })
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a number between 1 and 100' })
  .max(100, { error: 'expected a number between 1 and 100' });

const positiveInt = z
  .number({ error: 'expected a positive whole number' })
  .int({ error: 'expected a positive whole number' })
  .positive({ error: 'expected a positive whole number' });

const port = z
  .number({ error: 'expected a port number' })
  .int({ error: 'expected a port number' })
  .min(1, { error: 'expected a port number between 1 and 65535' })
  .max(65535, { error: 'expected a port number between 1 and 65535' });

const finite = z.number({ error: 'expected a number' }).refine(Number.isFinite, { error: 'expected a finite number' });

const regex = z.string({ error: 'expected a regular expression' }).refine(
  (value) => {
    try {
      new RegExp(value);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected a valid regular expression' },
);

const metricSchema = z.object({
  name: z.string({ error: 'expected a metric name' }).min(1, { error: 'expected a metric name' }),
  templateRef: z.object({ name, namespace: name.optional() }).optional(),
  thresholdRange: z
    .object({ min: finite.optional(), max: finite.optional() }, { error: 'expected {min, max}' })
    .optional(),
  interval: duration.optional(),
  query: z.string().min(1).optional(),
  templateVariables: z.record(z.string(), z.string({ error: 'expected a string' })).optional(),
});

const webhookSchema = z.object({
  name: z.string({ error: 'expected a webhook name' }).min(1),
  type: z
    .enum(SUPPORTED_WEBHOOK_TYPES, { error: `expected a webhook type Fledge runs (${SUPPORTED_WEBHOOK_TYPES.join(', ')})` })
    .default('rollout'),
  url: httpUrl,
  timeout: duration.optional(),
  metadata: z.record(z.string(), z.string({ error: 'expected a string' })).optional(),
});

const fledgeSchema = z.object({
  imageRepository: z.string({ error: 'expected an ECR repository name' }).min(1).optional(),
  tagPattern: regex.optional(),
  container: z.string({ error: 'expected a container name' }).min(1).optional(),
  cluster: z.string({ error: 'expected an EKS cluster name' }).min(1).optional(),
  route: name.optional(),
  failedCheckCounting: z
    .enum(['consecutive', 'cumulative'], { error: 'expected "consecutive" or "cumulative"' })
    .optional(),
  metricsServer: z.string({ error: 'expected a metrics server address' }).min(1).optional(),
});

const canarySchema = z.object({
  apiVersion: z.literal(FLAGGER_API_VERSION, { error: `expected ${FLAGGER_API_VERSION}` }),
  kind: z.literal('Canary', { error: 'expected Canary' }),
  metadata: z.object({ name, namespace: name.optional() }, { error: 'expected metadata with a name' }),
  spec: z.object(
    {
      provider: z.string({ error: 'expected a router name' }).optional(),
      targetRef: z.object(
        {
          apiVersion: z.string().optional(),
          kind: z.literal('Deployment', { error: 'expected Deployment (Fledge rolls out Deployments)' }),
          name,
        },
        { error: 'expected {kind: Deployment, name}' },
      ),
      service: z.object(
        {
          name: name.optional(),
          port,
          targetPort: z.union([port, z.string()]).optional(),
          portName: z.string().optional(),
        },
        { error: 'expected {port}' },
      ),
      progressDeadlineSeconds: positiveInt.optional(),
      ingressRef: z
        .object(
          {
            apiVersion: z.string().optional(),
            kind: z.literal('Ingress', { error: 'expected Ingress' }).optional(),
            name,
          },
          { error: 'expected {kind: Ingress, name}' },
        )
        .optional(),
      skipAnalysis: z.boolean({ error: 'expected true or false' }).optional(),
      suspend: z.boolean({ error: 'expected true or false' }).optional(),
      analysis: z.object(
        {
          interval: duration.optional(),
          threshold: positiveInt.optional(),
          maxWeight: weight.optional(),
          stepWeight: weight.optional(),
          stepWeights: z.array(weight, { error: 'expected a list of weights' }).min(1).optional(),
          iterations: positiveInt.optional(),
          // Read only to refuse them: dropped silently they would change what the rollout does.
          match: z.unknown().optional(),
          mirror: z.boolean({ error: 'expected true or false' }).optional(),
          metrics: z.array(metricSchema, { error: 'expected a list of metrics' }).optional(),
          webhooks: z.array(webhookSchema, { error: 'expected a list of webhooks' }).optional(),
        },
        { error: 'expected an analysis block' },
      ),
      fledge: fledgeSchema.optional(),
    },
    { error: 'expected a spec' },
  ),
});

const metricTemplateSchema = z.object({
  apiVersion: z.literal(FLAGGER_API_VERSION, { error: `expected ${FLAGGER_API_VERSION}` }),
  kind: z.literal('MetricTemplate', { error: 'expected MetricTemplate' }),
  metadata: z.object({ name, namespace: name.optional() }, { error: 'expected metadata with a name' }),
  spec: z.object(
    {
      provider: z.object(
        {
          type: z.string({ error: 'expected a provider type' }),
          address: httpUrl.optional(),
          secretRef: z
            .object(
              {
                name: z
                  .string({ error: 'expected the name or ARN of an AWS Secrets Manager secret' })
                  .regex(SECRET_NAME, { error: 'expected the name or ARN of an AWS Secrets Manager secret' }),
              },
              { error: 'expected {name}' },
            )
            .optional(),
          insecureSkipVerify: z.boolean().optional(),
          region: z
            .string({ error: 'expected an AWS region like "us-east-1"' })
            .regex(AWS_REGION, { error: 'expected an AWS region like "us-east-1"' })
            .optional(),
          lagSeconds: z
            .number({ error: `expected whole seconds from 0 to ${MAX_CLOUDWATCH_LAG_SECONDS}` })
            .int({ error: `expected whole seconds from 0 to ${MAX_CLOUDWATCH_LAG_SECONDS}` })
            .min(0, { error: `expected whole seconds from 0 to ${MAX_CLOUDWATCH_LAG_SECONDS}` })
            .max(MAX_CLOUDWATCH_LAG_SECONDS, { error: `expected whole seconds from 0 to ${MAX_CLOUDWATCH_LAG_SECONDS}` })
            .optional(),
          sigv4: z.boolean({ error: 'expected true or false' }).optional(),
          jsonPath: z.string({ error: 'expected a JSON path like $.value' }).startsWith('$', {
            error: 'expected a JSON path starting with $',
          }).optional(),
          headers: z.record(z.string(), z.string()).optional(),
        },
        { error: 'expected {type, address}' },
      ),
      query: z.string({ error: 'expected a query' }).min(1, { error: 'expected a query' }),
    },
    { error: 'expected a spec' },
  ),
});

export interface ThresholdRange {
  readonly min?: number;
  readonly max?: number;
}

export interface MetricSpec {
  readonly name: string;
  readonly templateRef?: { readonly name: string; readonly namespace: string };
  readonly thresholdRange: ThresholdRange;
  /** The query window as written ("1m"), rendered into `{{ interval }}`. */
  readonly interval: string;
  readonly intervalSeconds: number;
  /** An inline query (Flagger's older form); runs on the metrics server. */
  readonly query?: string;
  readonly templateVariables: Readonly<Record<string, string>>;
}

export interface WebhookSpec {
  readonly name: string;
  readonly type: WebhookType;
  readonly url: string;
  readonly timeoutSeconds: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface CanarySpec {
  readonly name: string;
  readonly namespace: string;
  readonly router: RouterType;
  readonly targetName: string;
  readonly serviceName: string;
  readonly servicePort: number;
  readonly progressDeadlineSeconds: number;
  /** Flagger's spec.skipAnalysis: promote once the canary is ready, without shifting traffic or analysing. */
  readonly skipAnalysis: boolean;
  /** Flagger's spec.suspend: the Canary's pushes start no rollout (Ignored, with the reason). */
  readonly suspend: boolean;
  readonly analysis: {
    readonly interval: string;
    readonly intervalSeconds: number;
    readonly threshold: number;
    readonly maxWeight?: number;
    readonly stepWeight?: number;
    readonly stepWeights?: readonly number[];
    /** Blue/green (Flagger's): this many analyses with no live traffic on the canary, then one with all of it. */
    readonly iterations?: number;
    readonly metrics: readonly MetricSpec[];
    readonly webhooks: readonly WebhookSpec[];
  };
  /** Fledge additions, all under spec.fledge; each has a documented default. */
  readonly fledge: {
    readonly imageRepository: string;
    readonly tagPattern: string;
    readonly container?: string;
    readonly cluster?: string;
    /** The routing object: spec.fledge.route, else Flagger's spec.ingressRef.name (nginx, alb), else the Service name. */
    readonly route: string;
    readonly failedCheckCounting: 'consecutive' | 'cumulative';
    readonly metricsServer?: string;
  };
}

export interface ProviderSpec {
  readonly type: MetricProviderType;
  readonly address?: string;
  readonly jsonPath?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * prometheus: the AWS Secrets Manager secret (name or ARN) holding `{"token"}` or
   * `{"username", "password"}`, read when querying. Only the name travels in the plan.
   */
  readonly secretRef?: { readonly name: string };
  readonly insecureSkipVerify?: boolean;
  /**
   * cloudwatch: the region queried (@default - the deployment's region);
   * prometheus with sigv4: the region signed for (from the workspace address when it names one).
   */
  readonly region?: string;
  /** cloudwatch: how far before the analysis time the query window ends. @default DEFAULT_CLOUDWATCH_LAG_SECONDS */
  readonly lagSeconds?: number;
  /** prometheus: sign requests with SigV4 for service `aps` (Amazon Managed Service for Prometheus); implied by a workspace address. */
  readonly sigv4?: boolean;
}

export interface MetricTemplateSpec {
  readonly name: string;
  readonly namespace: string;
  readonly provider: ProviderSpec;
  readonly query: string;
}

function formatIssue(issue: z.core.$ZodIssue, prefix: string): string {
  const path = [prefix, ...issue.path.map(String)]
    .filter((part) => part !== '')
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
  const input = (issue as { input?: unknown }).input;
  return `${path}: ${issue.message}, got ${showValue(input, issue.path)}`;
}

function validate<T>(schema: z.ZodType<T>, value: unknown, source: string): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => formatIssue(issue, ''));
  throw new SpecValidationError(`${source}: ${issues.join('; ')}`, issues);
}

function fail(source: string, issues: string[]): never {
  throw new SpecValidationError(`${source}: ${issues.join('; ')}`, issues);
}

function normalizeRouter(provider: string | undefined, issues: string[]): RouterType {
  const value = provider ?? DEFAULT_ROUTER;
  if (Object.hasOwn(ROUTERS, value)) return ROUTERS[value];
  issues.push(`spec.provider: unsupported router ${showValue(value)}; supported: ${SUPPORTED_ROUTERS.join(', ')}`);
  return 'gatewayapi';
}

/** Parse one Canary document; throws SpecValidationError naming each bad path and value. */
export function parseCanary(document: unknown, source = 'Canary'): CanarySpec {
  const raw = validate(canarySchema, document, source);
  const { spec } = raw;
  const { analysis } = spec;
  const namespace = raw.metadata.namespace ?? 'default';
  const issues: string[] = [];
  const router = normalizeRouter(spec.provider, issues);

  if (analysis.match !== undefined) {
    issues.push('spec.analysis.match: A/B testing (routing by header or cookie) is not supported; remove match for blue/green with iterations');
  }
  if (analysis.mirror === true) {
    issues.push('spec.analysis.mirror: traffic mirroring is not supported; remove it or set it to false');
  }
  if (spec.ingressRef && router !== 'nginx' && router !== 'alb') {
    issues.push(`spec.ingressRef: names the Ingress of the nginx or alb router; this Canary's router is ${router} (set spec.fledge.route for its route)`);
  }
  if (spec.ingressRef && spec.fledge?.route !== undefined && spec.fledge.route !== spec.ingressRef.name) {
    issues.push(
      `spec.fledge.route: ${showValue(spec.fledge.route)} names another Ingress than spec.ingressRef.name ${showValue(spec.ingressRef.name)}; set one of them`,
    );
  }
  const weighted = analysis.stepWeight !== undefined || analysis.stepWeights !== undefined;
  if (analysis.iterations !== undefined && weighted) {
    issues.push('spec.analysis: set iterations (blue/green) or stepWeight/stepWeights (canary), not both');
  }
  if (router === 'kubernetes' && (analysis.iterations === undefined || weighted)) {
    issues.push('spec.provider: kubernetes has no router to shift traffic with, so it runs blue/green only, as in Flagger: set spec.analysis.iterations and no stepWeight or stepWeights');
  }
  if (analysis.iterations === undefined && !weighted && router !== 'kubernetes') {
    issues.push('spec.analysis: set stepWeight (with maxWeight), stepWeights, or iterations (blue/green), got none');
  }
  if (analysis.stepWeight !== undefined && analysis.stepWeights !== undefined) {
    issues.push('spec.analysis: set stepWeight or stepWeights, not both');
  }
  const maxWeight = analysis.maxWeight ?? 100;
  if (analysis.stepWeight !== undefined && analysis.stepWeight > maxWeight) {
    issues.push(`spec.analysis.stepWeight: must not exceed maxWeight (${maxWeight}), got ${analysis.stepWeight}`);
  }
  analysis.stepWeights?.forEach((w, i, all) => {
    if (i > 0 && w <= all[i - 1]) {
      issues.push(`spec.analysis.stepWeights[${i}]: weights must increase, got ${w} after ${all[i - 1]}`);
    }
  });

  const interval = analysis.interval ?? '1m';
  const intervalSeconds = parseDurationSeconds(interval)!;
  if (!Number.isInteger(intervalSeconds) || intervalSeconds > MAX_INTERVAL_SECONDS) {
    issues.push(`spec.analysis.interval: expected whole seconds from 1s to 24h (Step Functions waits whole seconds), got ${showValue(interval)}`);
  }
  const seen = new Set<string>();
  const metrics: MetricSpec[] = (analysis.metrics ?? []).map((metric, i) => {
    const at = `spec.analysis.metrics[${i}]`;
    if (seen.has(metric.name)) issues.push(`${at}.name: duplicate metric name ${showValue(metric.name)}`);
    seen.add(metric.name);
    const range = metric.thresholdRange;
    if (!range || (range.min === undefined && range.max === undefined)) {
      issues.push(`${at}.thresholdRange: set min, max or both, got ${JSON.stringify(range ?? null)}`);
    } else if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
      issues.push(`${at}.thresholdRange: min > max (min ${range.min}, max ${range.max})`);
    }
    const metricInterval = metric.interval ?? interval;
    return {
      name: metric.name,
      templateRef: metric.templateRef
        ? { name: metric.templateRef.name, namespace: metric.templateRef.namespace ?? namespace }
        : undefined,
      thresholdRange: { min: range?.min, max: range?.max },
      interval: metricInterval,
      intervalSeconds: parseDurationSeconds(metricInterval)!,
      query: metric.query,
      templateVariables: metric.templateVariables ?? {},
    };
  });
  if (issues.length > 0) fail(source, issues);

  const serviceName = spec.service.name ?? spec.targetRef.name;
  return {
    name: raw.metadata.name,
    namespace,
    router,
    targetName: spec.targetRef.name,
    serviceName,
    servicePort: spec.service.port,
    progressDeadlineSeconds: spec.progressDeadlineSeconds ?? 600,
    skipAnalysis: spec.skipAnalysis ?? false,
    suspend: spec.suspend ?? false,
    analysis: {
      interval,
      intervalSeconds,
      threshold: analysis.threshold ?? 1,
      maxWeight: analysis.stepWeight !== undefined ? maxWeight : undefined,
      stepWeight: analysis.stepWeight,
      stepWeights: analysis.stepWeights,
      iterations: analysis.iterations,
      metrics,
      webhooks: (analysis.webhooks ?? []).map((hook) => ({
        name: hook.name,
        type: hook.type,
        url: hook.url,
        timeoutSeconds: parseDurationSeconds(hook.timeout ?? '60s')!,
        metadata: hook.metadata ?? {},
      })),
    },
    fledge: {
      imageRepository: spec.fledge?.imageRepository ?? spec.targetRef.name,
      tagPattern: spec.fledge?.tagPattern ?? '.*',
      container: spec.fledge?.container,
      cluster: spec.fledge?.cluster,
      route: spec.fledge?.route ?? spec.ingressRef?.name ?? serviceName,
      failedCheckCounting: spec.fledge?.failedCheckCounting ?? 'consecutive',
      metricsServer: spec.fledge?.metricsServer,
    },
  };
}

/** The region of an Amazon Managed Service for Prometheus workspace address, or undefined for any other address. */
export function ampWorkspaceRegion(address: string): string | undefined {
  if (!URL.canParse(address)) return undefined;
  return AMP_HOST.exec(new URL(address).hostname)?.[1];
}

/** Which provider types take each optional provider field; any other type given it is refused, not ignored. */
const PROVIDER_FIELDS: Readonly<Record<string, readonly MetricProviderType[]>> = {
  address: ['prometheus', 'web'],
  headers: ['prometheus', 'web'],
  jsonPath: ['web'],
  secretRef: ['prometheus'],
  insecureSkipVerify: ['prometheus', 'web'],
  region: ['cloudwatch', 'prometheus'],
  lagSeconds: ['cloudwatch'],
  sigv4: ['prometheus'],
};

const FIELD_HINTS: Readonly<Record<string, string>> = {
  'cloudwatch address': 'CloudWatch is reached at its regional endpoint: set spec.provider.region',
  'cloudwatch secretRef': "CloudWatch is queried with the AWS credentials of Fledge's own role",
};

/** Parse one MetricTemplate document; throws SpecValidationError naming each bad path and value. */
export function parseMetricTemplate(document: unknown, source = 'MetricTemplate'): MetricTemplateSpec {
  const raw = validate(metricTemplateSchema, document, source);
  const { provider } = raw.spec;
  const issues: string[] = [];
  const type = provider.type as MetricProviderType;
  const supported = (SUPPORTED_METRIC_PROVIDERS as readonly string[]).includes(provider.type);
  if (!supported) {
    issues.push(
      `spec.provider.type: unsupported metric provider ${showValue(provider.type)}; supported: ${SUPPORTED_METRIC_PROVIDERS.join(', ')}`,
    );
  }
  if (provider.address && hasUrlCredentials(provider.address)) {
    issues.push(`spec.provider.address: ${CREDENTIALS}, got ${showValue(provider.address)}`);
  }
  for (const header of Object.keys(provider.headers ?? {}).filter((name) => CREDENTIAL_HEADER.test(name))) {
    issues.push(`spec.provider.headers.${header}: ${CREDENTIALS}`);
  }
  for (const [field, types] of Object.entries(PROVIDER_FIELDS)) {
    if (!supported || provider[field as keyof typeof provider] === undefined || types.includes(type)) continue;
    const hint = FIELD_HINTS[`${type} ${field}`] ?? `only ${types.join(' and ')} providers take it`;
    issues.push(`spec.provider.${field}: not used by a ${type} provider (${hint})`);
  }

  let sigv4: { readonly region: string } | undefined;
  switch (supported ? type : undefined) {
    case 'prometheus': {
      if (!provider.address) {
        issues.push('spec.provider.address: a prometheus provider needs the server address, got nothing');
        break;
      }
      const workspaceRegion = ampWorkspaceRegion(provider.address);
      if (provider.region && workspaceRegion && provider.region !== workspaceRegion) {
        issues.push(`spec.provider.region: the workspace address is in ${workspaceRegion}, got ${showValue(provider.region)}`);
      }
      const region = provider.region ?? workspaceRegion;
      if (!(provider.sigv4 ?? workspaceRegion !== undefined)) {
        if (provider.region) issues.push('spec.provider.region: a prometheus provider uses a region only to sign with SigV4 (set sigv4: true)');
        break;
      }
      if (!region) {
        issues.push(
          'spec.provider.region: SigV4 signs for a region, and the address does not name one ' +
            '(aps-workspaces.<region>.amazonaws.com); set spec.provider.region',
        );
      } else {
        sigv4 = { region };
      }
      if (provider.secretRef) {
        issues.push("spec.provider.secretRef: a SigV4-signed provider authenticates with Fledge's AWS role, not a secret (set sigv4: false to use the secret)");
      }
      break;
    }
    case 'web':
      if (!provider.jsonPath) issues.push('spec.provider.jsonPath: a web provider needs the JSON path of the value, got nothing');
      break;
    case 'cloudwatch':
      issues.push(...checkCloudWatchQueryTemplate(raw.spec.query, 'spec.query'));
      break;
  }
  if (issues.length > 0) fail(source, issues);
  const common = {
    address: provider.address,
    jsonPath: provider.jsonPath,
    headers: provider.headers,
    secretRef: provider.secretRef,
    insecureSkipVerify: provider.insecureSkipVerify,
  };
  return {
    name: raw.metadata.name,
    namespace: raw.metadata.namespace ?? 'default',
    provider:
      type === 'cloudwatch'
        ? { type, region: provider.region, lagSeconds: provider.lagSeconds ?? DEFAULT_CLOUDWATCH_LAG_SECONDS }
        : { type, ...common, ...(sigv4 ? { sigv4: true, region: sigv4.region } : {}) },
    query: raw.spec.query,
  };
}

/**
 * A metrics server as the deployment or spec.fledge.metricsServer gives it: `prometheus:<url>` or
 * `web:<url>` (a stats API, see builtin-metrics). An Amazon Managed Service for Prometheus
 * workspace URL is signed with SigV4 for the region it names.
 */
export function parseMetricsServer(value: string, source: string): ProviderSpec {
  const match = /^(prometheus|web):(.+)$/.exec(value.trim());
  if (!match) {
    throw new SpecValidationError(
      `${source}: expected "prometheus:<url>" or "web:<url>", got ${showValue(value)}`,
    );
  }
  const type = match[1] as MetricProviderType;
  const address = match[2];
  if (!URL.canParse(address) || !/^https?:$/.test(new URL(address).protocol)) {
    throw new SpecValidationError(`${source}: expected an http(s) URL after "${type}:", got ${showValue(address)}`);
  }
  if (hasUrlCredentials(address)) {
    throw new SpecValidationError(`${source}: ${CREDENTIALS}, got ${showValue(address)}`);
  }
  const region = type === 'prometheus' ? ampWorkspaceRegion(address) : undefined;
  return region ? { type, address, sigv4: true, region } : { type, address };
}
