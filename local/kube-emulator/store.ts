// Object storage of the Kubernetes API emulator: resource types, resourceVersion, generation, defaulting, validation and Status errors.
import { randomBytes, randomUUID } from 'node:crypto';
import { clone, deepEqual } from './patch';

/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, any>;

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly subresources: readonly ('status' | 'scale')[];
  /** Built into the API server (strategic merge patch allowed); false for custom resources. */
  readonly builtin: boolean;
  /** A custom resource first addressed by URL: its kind is a guess until an object of it is written. */
  readonly kindGuessed?: boolean;
}

export const apiVersionOf = (type: Pick<ResourceType, 'group' | 'version'>): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

/** `deployments.apps`, `services`: how the API server names a resource in its messages. */
export const qualifiedResource = (type: ResourceType): string => (type.group ? `${type.plural}.${type.group}` : type.plural);

const qualifiedKind = (type: ResourceType): string => (type.group ? `${type.kind}.${type.group}` : type.kind);

// ---------------------------------------------------------------- Status errors

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** A failed request, carried as the metav1.Status body the real API server sends. */
export class ApiStatusError extends Error {
  override readonly name = 'ApiStatusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): KubeObject {
    return statusBody(this.code, this.reason, this.message, this.details);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** StatusDetails as the server fills them for NotFound/AlreadyExists/Conflict: kind is the resource (plural), group omitted for core. */
const resourceDetails = (type: ResourceType, name: string): Record<string, unknown> => ({
  name,
  ...(type.group ? { group: type.group } : {}),
  kind: type.plural,
});

export const notFound = (type: ResourceType, name: string): ApiStatusError =>
  new ApiStatusError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, resourceDetails(type, name));

export const alreadyExists = (type: ResourceType, name: string): ApiStatusError =>
  new ApiStatusError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, resourceDetails(type, name));

export const conflict = (type: ResourceType, name: string): ApiStatusError =>
  new ApiStatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    resourceDetails(type, name),
  );

/** 422 Invalid: message `Deployment.apps "x" is invalid: <causes>`, details.kind is the Kind (unlike NotFound). */
export function invalid(type: ResourceType, name: string, causes: StatusCause[]): ApiStatusError {
  const summary = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const joined = summary.length === 1 ? summary[0] : `[${summary.join(', ')}]`;
  return new ApiStatusError(422, 'Invalid', `${qualifiedKind(type)} "${name}" is invalid: ${joined}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
    causes,
  });
}

export const badRequest = (message: string): ApiStatusError => new ApiStatusError(400, 'BadRequest', message);

// ---------------------------------------------------------------- resource types

const BUILTIN_GROUPS = new Set(['', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'events.k8s.io', 'rbac.authorization.k8s.io']);

function builtinType(group: string, version: string, plural: string, kind: string, subresources: ResourceType['subresources'] = [], namespaced = true): ResourceType {
  return { group, version, plural, singular: kind.toLowerCase(), kind, namespaced, subresources, builtin: BUILTIN_GROUPS.has(group) };
}

const PRESET_TYPES: ResourceType[] = [
  builtinType('', 'v1', 'namespaces', 'Namespace', ['status'], false),
  builtinType('', 'v1', 'services', 'Service', ['status']),
  builtinType('', 'v1', 'events', 'Event'),
  builtinType('', 'v1', 'configmaps', 'ConfigMap'),
  builtinType('', 'v1', 'pods', 'Pod', ['status']),
  builtinType('', 'v1', 'secrets', 'Secret'),
  builtinType('', 'v1', 'serviceaccounts', 'ServiceAccount'),
  builtinType('', 'v1', 'endpoints', 'Endpoints'),
  builtinType('apps', 'v1', 'deployments', 'Deployment', ['status', 'scale']),
  builtinType('apps', 'v1', 'replicasets', 'ReplicaSet', ['status', 'scale']),
  builtinType('events.k8s.io', 'v1', 'events', 'Event'),
  builtinType('networking.k8s.io', 'v1', 'ingresses', 'Ingress', ['status']),
  builtinType('gateway.networking.k8s.io', 'v1', 'httproutes', 'HTTPRoute', ['status']),
  builtinType('gateway.networking.k8s.io', 'v1', 'gateways', 'Gateway', ['status']),
  builtinType('gateway.networking.k8s.io', 'v1', 'grpcroutes', 'GRPCRoute', ['status']),
  builtinType('gateway.networking.k8s.io', 'v1beta1', 'httproutes', 'HTTPRoute', ['status']),
  builtinType('networking.istio.io', 'v1', 'virtualservices', 'VirtualService', ['status']),
  builtinType('networking.istio.io', 'v1beta1', 'virtualservices', 'VirtualService', ['status']),
  builtinType('networking.istio.io', 'v1', 'destinationrules', 'DestinationRule', ['status']),
  builtinType('networking.istio.io', 'v1beta1', 'destinationrules', 'DestinationRule', ['status']),
];

function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

function kindOf(plural: string): string {
  const singular = plural.endsWith('ies') ? `${plural.slice(0, -3)}y` : plural.replace(/(ses|xes|ches|shes)$/, (m) => m.slice(0, -2)).replace(/s$/, '');
  return singular.charAt(0).toUpperCase() + singular.slice(1);
}

/** Known resource types; custom resources are registered the first time they are seen, as if their CRD were installed. */
export class ResourceRegistry {
  private readonly types: ResourceType[] = [...PRESET_TYPES];

  all(): readonly ResourceType[] {
    return this.types;
  }

  byPath(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.version === version && t.plural === plural);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  /** A custom resource addressed by URL before any object of it exists: the kind is guessed from the plural until one is written. */
  ensurePath(group: string, version: string, plural: string, kind?: string): ResourceType {
    const existing = this.byPath(group, version, plural);
    if (existing && (!kind || existing.kind === kind)) return existing;
    const type: ResourceType = {
      group,
      version,
      plural,
      singular: (kind ?? kindOf(plural)).toLowerCase(),
      kind: kind ?? kindOf(plural),
      namespaced: existing?.namespaced ?? true,
      subresources: ['status'],
      builtin: BUILTIN_GROUPS.has(group),
      ...(kind ? {} : { kindGuessed: true }),
    };
    if (existing) this.types.splice(this.types.indexOf(existing), 1, type);
    else this.types.push(type);
    return type;
  }

  ensureKind(apiVersion: string, kind: string): ResourceType {
    const known = this.byKind(apiVersion, kind);
    if (known) return known;
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return this.ensurePath(group, version, pluralOf(kind), kind);
  }
}

// ---------------------------------------------------------------- validation and defaulting

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function nameCauses(type: ResourceType, name: string): StatusCause[] {
  if (!name) return [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }];
  // Services need a DNS-1035 label (the name becomes a DNS label); most other objects a DNS-1123 subdomain.
  if (type.plural === 'services' && (name.length > 63 || !DNS1035_LABEL.test(name))) {
    return [
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
        field: 'metadata.name',
      },
    ];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
        field: 'metadata.name',
      },
    ];
  }
  return [];
}

const goMap = (labels: Record<string, string> | undefined): string =>
  `map[string]string{${Object.entries(labels ?? {})
    .map(([k, v]) => `"${k}":"${v}"`)
    .join(', ')}}`;

function deploymentCauses(obj: KubeObject, previous: KubeObject | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  const selector = obj.spec?.selector;
  if (!selector || (!selector.matchLabels && !selector.matchExpressions)) {
    causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.selector' });
  } else {
    const podLabels: Record<string, string> = obj.spec?.template?.metadata?.labels ?? {};
    if (!Object.entries(selector.matchLabels ?? {}).every(([k, v]) => podLabels[k] === v)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${goMap(podLabels)}: \`selector\` does not match template \`labels\``,
        field: 'spec.template.metadata.labels',
      });
    }
    if (previous && !deepEqual(previous.spec?.selector, selector)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: v1.LabelSelector{MatchLabels:${goMap(selector.matchLabels)}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`,
        field: 'spec.selector',
      });
    }
  }
  const containers = obj.spec?.template?.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers' });
  }
  if (typeof obj.spec?.replicas === 'number' && obj.spec.replicas < 0) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${obj.spec.replicas}: must be greater than or equal to 0`, field: 'spec.replicas' });
  }
  return causes;
}

const imagePullPolicyFor = (image: string): string => {
  const last = image.split('/').pop() ?? '';
  if (image.includes('@')) return 'IfNotPresent';
  return !last.includes(':') || last.endsWith(':latest') ? 'Always' : 'IfNotPresent';
};

/** The defaults the API server fills in, so that clients comparing specs meet the same surprises as against a real cluster. */
function applyDefaults(type: ResourceType, obj: KubeObject, previous: KubeObject | undefined): void {
  if (type.group === 'apps' && type.plural === 'deployments') {
    const spec = (obj.spec ??= {});
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    const podSpec = (spec.template ??= {}).spec ?? (spec.template.spec = {});
    podSpec.restartPolicy ??= 'Always';
    podSpec.terminationGracePeriodSeconds ??= 30;
    podSpec.dnsPolicy ??= 'ClusterFirst';
    podSpec.securityContext ??= {};
    podSpec.schedulerName ??= 'default-scheduler';
    for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
      container.terminationMessagePath ??= '/dev/termination-log';
      container.terminationMessagePolicy ??= 'File';
      if (typeof container.image === 'string') container.imagePullPolicy ??= imagePullPolicyFor(container.image);
      container.resources ??= {};
      for (const port of container.ports ?? []) port.protocol ??= 'TCP';
    }
  }
  if (type.group === '' && type.plural === 'services') {
    const spec = (obj.spec ??= {});
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    // clusterIP is allocated once and kept when an update leaves it empty, as the real server does.
    spec.clusterIP ??= previous?.spec?.clusterIP ?? `10.96.${randomBytes(1)[0]}.${1 + (randomBytes(1)[0] % 254)}`;
    spec.clusterIPs ??= [spec.clusterIP];
    for (const port of spec.ports ?? []) {
      port.protocol ??= 'TCP';
      port.targetPort ??= port.port;
    }
  }
}

// ---------------------------------------------------------------- store

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  readonly type: ChangeType;
  readonly resource: ResourceType;
  readonly object: KubeObject;
  /** The spec changed: metadata.generation was bumped (or the object is new). */
  readonly specChanged: boolean;
}

export type WriteMode = 'main' | 'status';

const storageKey = (type: ResourceType): string => `${type.group}/${type.plural}`;
const objectKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Generation applies to objects outside the core group (Deployments, custom resources): core objects like Services have none. */
const hasGeneration = (type: ResourceType): boolean => type.group !== '';

/** What counts as the spec for generation: everything but metadata and status. */
const specPart = (obj: KubeObject): KubeObject => {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
};

export class ObjectStore {
  private resourceVersion = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly listeners: ((event: ChangeEvent) => void)[] = [];

  constructor(readonly registry: ResourceRegistry) {}

  /** The last resourceVersion handed out, for list metadata. */
  currentResourceVersion(): string {
    return String(this.resourceVersion);
  }

  onChange(listener: (event: ChangeEvent) => void): void {
    this.listeners.push(listener);
  }

  private bucket(type: ResourceType): Map<string, KubeObject> {
    const key = storageKey(type);
    let bucket = this.objects.get(key);
    if (!bucket) this.objects.set(key, (bucket = new Map()));
    return bucket;
  }

  private emit(event: ChangeEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private nextResourceVersion(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private present(type: ResourceType, obj: KubeObject): KubeObject {
    const { apiVersion: _stored, kind: _kind, ...rest } = clone(obj);
    // One storage serves every version of a resource: answer in the version asked for.
    return { apiVersion: apiVersionOf(type), kind: type.kind, ...rest };
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const found = this.bucket(type).get(objectKey(namespace, name));
    return found ? this.present(type, found) : undefined;
  }

  /** Objects of a type, in one namespace or (namespace undefined) all of them, in name order. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    return [...this.bucket(type).values()]
      .filter((obj) => namespace === undefined || (obj.metadata.namespace ?? '') === namespace)
      .sort((a, b) => objectKey(a.metadata.namespace ?? '', a.metadata.name).localeCompare(objectKey(b.metadata.namespace ?? '', b.metadata.name)))
      .map((obj) => this.present(type, obj));
  }

  private checkNamespace(type: ResourceType, obj: KubeObject, namespace: string): void {
    const metadata = (obj.metadata ??= {});
    if (!type.namespaced) {
      delete metadata.namespace;
      return;
    }
    if (metadata.namespace && metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    metadata.namespace = namespace;
  }

  /**
   * POST: a new object. Status is reset for types with a status subresource, as the real
   * server does, unless `keepStatus` (seeding a cluster that already runs things).
   */
  create(type: ResourceType, namespace: string, body: KubeObject, options: { keepStatus?: boolean } = {}): KubeObject {
    const obj = clone(body);
    this.checkNamespace(type, obj, namespace);
    const metadata = obj.metadata;
    if (!metadata.name && metadata.generateName) metadata.name = `${metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    const causes = nameCauses(type, metadata.name ?? '');
    if (type.plural === 'deployments' && type.group === 'apps') causes.push(...deploymentCauses(obj, undefined));
    if (causes.length > 0) throw invalid(type, metadata.name ?? '', causes);
    const bucket = this.bucket(type);
    const key = objectKey(type.namespaced ? namespace : '', metadata.name);
    if (bucket.has(key)) throw alreadyExists(type, metadata.name);

    applyDefaults(type, obj, undefined);
    if (type.subresources.includes('status') && !options.keepStatus) {
      if (type.plural === 'deployments') obj.status = {};
      else if (type.plural === 'services') obj.status = { loadBalancer: {} };
      else delete obj.status;
    }
    delete metadata.deletionTimestamp;
    metadata.uid = randomUUID();
    metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    metadata.resourceVersion = this.nextResourceVersion();
    if (hasGeneration(type)) metadata.generation = 1;
    else delete metadata.generation;
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    bucket.set(key, obj);
    this.emit({ type: 'ADDED', resource: type, object: clone(obj), specChanged: true });
    return this.present(type, obj);
  }

  /**
   * PUT (and the result of a PATCH): replace the object, or only its status for the status
   * subresource. A stale metadata.resourceVersion is a 409 Conflict; custom resources need one.
   * Writing what is already stored changes nothing and keeps the resourceVersion.
   */
  update(
    type: ResourceType,
    namespace: string,
    name: string,
    body: KubeObject,
    options: { mode?: WriteMode; requireResourceVersion?: boolean } = {},
  ): KubeObject {
    const mode = options.mode ?? 'main';
    const bucket = this.bucket(type);
    const key = objectKey(type.namespaced ? namespace : '', name);
    const current = bucket.get(key);
    if (!current) throw notFound(type, name);
    const incoming = clone(body);
    this.checkNamespace(type, incoming, namespace);
    const bodyName = incoming.metadata.name ?? '';
    if (bodyName !== name) {
      throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    }
    const sentVersion = incoming.metadata.resourceVersion;
    if (sentVersion !== undefined && sentVersion !== '' && sentVersion !== current.metadata.resourceVersion) {
      throw conflict(type, name);
    }
    if (!sentVersion && options.requireResourceVersion) {
      throw invalid(type, name, [
        { reason: 'FieldValueInvalid', message: 'Invalid value: 0: must be specified for an update', field: 'metadata.resourceVersion' },
      ]);
    }

    let next: KubeObject;
    if (mode === 'status') {
      next = { ...clone(current), status: incoming.status };
    } else {
      next = { ...incoming, metadata: { ...incoming.metadata }, apiVersion: apiVersionOf(type), kind: type.kind };
      // The main resource ignores status when the type has a status subresource.
      if (type.subresources.includes('status')) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      if (type.plural === 'deployments' && type.group === 'apps') {
        const causes = deploymentCauses(next, current);
        if (causes.length > 0) throw invalid(type, name, causes);
      }
      applyDefaults(type, next, current);
    }
    next.apiVersion = apiVersionOf(type);
    next.kind = type.kind;
    const meta = next.metadata;
    meta.uid = current.metadata.uid;
    meta.creationTimestamp = current.metadata.creationTimestamp;
    meta.namespace = current.metadata.namespace;
    if (!type.namespaced) delete meta.namespace;
    meta.resourceVersion = current.metadata.resourceVersion;
    const specChanged = mode === 'main' && !deepEqual(specPart(current), specPart(next));
    if (hasGeneration(type)) meta.generation = (current.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    else delete meta.generation;

    if (deepEqual(current, next)) return this.present(type, current);
    meta.resourceVersion = this.nextResourceVersion();
    bucket.set(key, next);
    this.emit({ type: 'MODIFIED', resource: type, object: clone(next), specChanged });
    return this.present(type, next);
  }

  delete(type: ResourceType, namespace: string, name: string): KubeObject {
    const bucket = this.bucket(type);
    const key = objectKey(type.namespaced ? namespace : '', name);
    const current = bucket.get(key);
    if (!current) throw notFound(type, name);
    bucket.delete(key);
    this.emit({ type: 'DELETED', resource: type, object: clone(current), specChanged: false });
    return this.present(type, current);
  }

  /** A controller's status write: bumps resourceVersion like any other write, so clients can race it. */
  writeStatus(type: ResourceType, namespace: string, name: string, status: KubeObject): KubeObject | undefined {
    const current = this.bucket(type).get(objectKey(namespace, name));
    if (!current) return undefined;
    return this.update(type, namespace, name, { ...clone(current), status }, { mode: 'status' });
  }
}
