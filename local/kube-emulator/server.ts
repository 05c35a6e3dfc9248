// HTTP routing of the Kubernetes API emulator: discovery, CRUD, patch, subresources, auth and faults, answered as the real API server does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeploymentController } from './deployment-controller';
import type { FaultInjector } from './faults';
import { PatchError, jsonPatch, mergePatch, strategicMerge } from './patch';
import {
  ApiStatusError,
  apiVersionOf,
  badRequest,
  conflict,
  notFound,
  statusBody,
  type KubeObject,
  type ObjectStore,
  type ResourceRegistry,
  type ResourceType,
} from './store';

/** One request as the emulator saw it, for tests that assert what a client did (or did not) send. */
export interface RequestRecord {
  readonly method: string;
  /** URL path without the query string. */
  readonly path: string;
  /** Query string without `?` ('' when none). */
  readonly query: string;
  readonly contentType?: string;
  /** Response status; 0 when the connection was reset. */
  status: number;
  /** Parsed JSON request body, when there was one. */
  readonly body?: unknown;
}

export interface ServerContext {
  readonly store: ObjectStore;
  readonly registry: ResourceRegistry;
  readonly faults: FaultInjector;
  readonly controller: DeploymentController;
  readonly requests: RequestRecord[];
  readonly bearerToken?: string;
}

const pageNotFound = (): ApiStatusError => new ApiStatusError(404, 'NotFound', 'the server could not find the requested resource', {});
const methodNotAllowed = (): ApiStatusError =>
  new ApiStatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

/** Reason and message the real server uses for a status code, for injected faults. */
function faultStatus(code: number, path: string): KubeObject {
  const reasons: Record<number, [string, string]> = {
    400: ['BadRequest', 'the server rejected our request for an unknown reason'],
    401: ['Unauthorized', 'Unauthorized'],
    403: ['Forbidden', 'forbidden: the server does not allow access to the requested resource'],
    404: ['NotFound', 'the server could not find the requested resource'],
    408: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
    409: ['Conflict', 'the object has been modified; please apply your changes to the latest version and try again'],
    422: ['Invalid', 'the server rejected our request due to an error in our request'],
    429: ['TooManyRequests', 'the server has received too many requests and has asked us to try again later'],
    500: ['InternalError', 'an error on the server ("") has prevented the request from succeeding'],
    503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
    504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
  };
  const [reason, message] = reasons[code] ?? ['Unknown', `the server responded with the status code ${code} but did not return more information`];
  const status = statusBody(code, reason, message, code === 429 ? { retryAfterSeconds: 1 } : {});
  // An injected 409 on an object reads like the real optimistic-concurrency conflict.
  const named = /^\/apis?\/(?:([^/]+)\/)?v[^/]*\/namespaces\/[^/]+\/([^/]+)\/([^/?]+)/.exec(path);
  if (code === 409 && named) {
    const [, group, plural, name] = named;
    const type = { group: path.startsWith('/api/') ? '' : (group ?? ''), plural } as ResourceType;
    return conflict(type, name).toStatus();
  }
  return status;
}

// ---------------------------------------------------------------- selectors

interface Requirement {
  key: string;
  op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

/** Label selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma-separated. */
export function parseLabelSelector(selector: string): Requirement[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += char;
  }
  terms.push(current);
  return terms
    .map((term) => term.trim())
    .filter(Boolean)
    .map((term): Requirement => {
      const set = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
      if (set) return { key: set[1], op: set[2] as 'in' | 'notin', values: set[3].split(',').map((v) => v.trim()) };
      const inequality = /^([^\s!=]+)\s*!=\s*(\S*)$/.exec(term);
      if (inequality) return { key: inequality[1], op: '!=', values: [inequality[2]] };
      const equality = /^([^\s!=]+)\s*==?\s*(\S*)$/.exec(term);
      if (equality) return { key: equality[1], op: '=', values: [equality[2]] };
      if (/^![^\s!=]+$/.test(term)) return { key: term.slice(1), op: '!exists', values: [] };
      if (/^[^\s!=()]+$/.test(term)) return { key: term, op: 'exists', values: [] };
      throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`);
    });
}

function matches(requirements: Requirement[], lookup: (key: string) => string | undefined): boolean {
  return requirements.every(({ key, op, values }) => {
    const value = lookup(key);
    switch (op) {
      case '=':
        return value === values[0];
      case '!=':
        return value !== values[0];
      case 'in':
        return value !== undefined && values.includes(value);
      case 'notin':
        return value === undefined || !values.includes(value);
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
    }
  });
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  const value = path.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as KubeObject)[part] : undefined), obj);
  return value === undefined || value === null ? undefined : String(value);
}

// ---------------------------------------------------------------- discovery

function resourceList(registry: ResourceRegistry, group: string, version: string): KubeObject | undefined {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update'];
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: types.flatMap((t) => [
      { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs },
      ...t.subresources.map((sub) => ({
        name: `${t.plural}/${sub}`,
        singularName: '',
        namespaced: t.namespaced,
        ...(sub === 'scale' ? { group: 'autoscaling', version: 'v1', kind: 'Scale' } : { kind: t.kind }),
        verbs: ['get', 'patch', 'update'],
      })),
    ]),
  };
}

function apiGroup(registry: ResourceRegistry, name: string): KubeObject | undefined {
  const versions = [...new Set(registry.all().filter((t) => t.group === name).map((t) => t.version))];
  if (versions.length === 0) return undefined;
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: entries, preferredVersion: entries[0] };
}

// ---------------------------------------------------------------- request handling

interface Target {
  type: ResourceType;
  /** undefined: all namespaces (or a cluster-scoped type). */
  namespace?: string;
  name?: string;
  subresource?: string;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** Resolve `/api/v1/...` and `/apis/{group}/{version}/...` to a resource, or answer a discovery document. */
function route(ctx: ServerContext, segments: string[]): Target | Reply {
  const core = segments[0] === 'api';
  if (!core && segments[0] !== 'apis') throw pageNotFound();
  if (core && segments.length === 1) return ok({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
  if (!core && segments.length === 1) {
    const groups = [...new Set(ctx.registry.all().map((t) => t.group))].filter(Boolean).map((name) => apiGroup(ctx.registry, name));
    return ok({ kind: 'APIGroupList', apiVersion: 'v1', groups });
  }
  const group = core ? '' : segments[1];
  if (!core && segments.length === 2) return ok(apiGroup(ctx.registry, group) ?? (() => { throw pageNotFound(); })());
  const version = core ? segments[1] : segments[2];
  const rest = segments.slice(core ? 2 : 3);
  if (rest.length === 0) return ok(resourceList(ctx.registry, group, version) ?? (() => { throw pageNotFound(); })());

  let namespace: string | undefined;
  let plural: string;
  let name: string | undefined;
  let subresource: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !['status', 'finalize'].includes(rest[2])) {
    [, namespace, plural, name, subresource] = rest;
  } else {
    [plural, name, subresource] = rest;
  }
  if (rest.length > (namespace === undefined ? 3 : 5)) throw pageNotFound();
  let type = ctx.registry.byPath(group, version, plural);
  // Any custom resource is served, as if its CRD were installed (Istio, ALB controller…).
  if (!type && !core && namespace !== undefined && !['apps', 'events.k8s.io', 'networking.k8s.io'].includes(group)) {
    type = ctx.registry.ensurePath(group, version, plural);
  }
  if (!type) throw pageNotFound();
  if (type.namespaced && namespace === undefined && name !== undefined) throw pageNotFound();
  if (!type.namespaced && namespace !== undefined) throw pageNotFound();
  if (subresource !== undefined && !type.subresources.includes(subresource as 'status' | 'scale')) throw pageNotFound();
  return { type, namespace: type.namespaced ? namespace : '', name, subresource };
}

function scaleOf(deployment: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = deployment.metadata;
  const matchLabels: Record<string, string> = deployment.spec?.selector?.matchLabels ?? {};
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: deployment.spec?.replicas ?? 0 },
    status: {
      replicas: deployment.status?.replicas ?? 0,
      selector: Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
  };
}

function deleted(type: ResourceType, obj: KubeObject): KubeObject {
  // Services, Pods and custom resources answer a DELETE with the object; the other built-ins with a Status.
  if (!type.builtin || (type.group === '' && ['services', 'pods'].includes(type.plural))) return obj;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: obj.metadata.name, ...(type.group ? { group: type.group } : {}), kind: type.plural, uid: obj.metadata.uid },
  };
}

function applyPatch(type: ResourceType, contentType: string, base: KubeObject, patch: unknown): KubeObject {
  const accepted = ['application/json-patch+json', 'application/merge-patch+json', ...(type.builtin ? ['application/strategic-merge-patch+json'] : [])];
  try {
    switch (contentType) {
      case 'application/merge-patch+json':
        return mergePatch(base, patch);
      case 'application/json-patch+json':
        return jsonPatch(base, patch);
      case 'application/strategic-merge-patch+json':
        // Custom resources have no patch strategy metadata: the real server refuses strategic merge for them.
        if (type.builtin) return strategicMerge(base, patch);
        break;
    }
  } catch (err) {
    if (!(err instanceof PatchError)) throw err;
    if (err.malformed) throw badRequest(err.message);
    // The real server answers a JSON patch that does not apply (a failed `test` included) with this generic 422.
    throw new ApiStatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
      causes: [{ reason: 'FieldValueInvalid', message: err.message, field: 'patch' }],
    });
  }
  throw new ApiStatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${[...accepted, 'application/apply-patch+yaml'].join(', ')}`,
  );
}

function handleResource(ctx: ServerContext, method: string, target: Target, query: URLSearchParams, contentType: string, body: unknown): Reply {
  const { store } = ctx;
  const { namespace, name, subresource } = target;
  let { type } = target;
  const bodyKind = (body as KubeObject | undefined)?.kind;
  // The first object written of a custom resource tells its real kind (VirtualService, not Virtualservice).
  if (type.kindGuessed && typeof bodyKind === 'string' && bodyKind !== type.kind && (method === 'POST' || method === 'PUT')) {
    type = ctx.registry.ensurePath(type.group, type.version, type.plural, bodyKind);
  }
  const ns = namespace ?? '';

  if (name === undefined) {
    switch (method) {
      case 'GET': {
        if (query.get('watch') === 'true' || query.get('watch') === '1') throw badRequest('watch is not supported by the Fledge Kubernetes API emulator');
        const labels = parseLabelSelector(query.get('labelSelector') ?? '');
        const fields = parseLabelSelector(query.get('fieldSelector') ?? '');
        const items = store
          .list(type, namespace)
          .filter((obj) => matches(labels, (key) => obj.metadata.labels?.[key]))
          .filter((obj) => matches(fields, (path) => fieldValue(obj, path)));
        return ok({ kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: store.currentResourceVersion() }, items });
      }
      case 'POST':
        if (!body || typeof body !== 'object') throw badRequest('the request body must be a JSON object');
        return ok(store.create(type, ns, body as KubeObject), 201);
      case 'DELETE': {
        const labels = parseLabelSelector(query.get('labelSelector') ?? '');
        const items = store
          .list(type, namespace)
          .filter((obj) => matches(labels, (key) => obj.metadata.labels?.[key]))
          .map((obj) => store.delete(type, obj.metadata.namespace ?? '', obj.metadata.name));
        return ok({ kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: store.currentResourceVersion() }, items });
      }
      default:
        throw methodNotAllowed();
    }
  }

  const current = (): KubeObject => store.get(type, ns, name) ?? (() => { throw notFound(type, name); })();
  const asBody = (): KubeObject => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
    return body as KubeObject;
  };

  if (subresource === 'scale') {
    switch (method) {
      case 'GET':
        return ok(scaleOf(current()));
      case 'PUT':
      case 'PATCH': {
        const deployment = current();
        const scale = method === 'PUT' ? asBody() : applyPatch(type, contentType, scaleOf(deployment), body);
        const version = scale.metadata?.resourceVersion;
        if (version && version !== deployment.metadata.resourceVersion) throw conflict(type, name);
        const replicas = scale.spec?.replicas ?? 0;
        const updated = store.update(type, ns, name, { ...deployment, spec: { ...deployment.spec, replicas } });
        return ok(scaleOf(updated));
      }
      default:
        throw methodNotAllowed();
    }
  }

  const mode = subresource === 'status' ? 'status' : 'main';
  switch (method) {
    case 'GET':
      return ok(current());
    case 'PUT':
      return ok(store.update(type, ns, name, asBody(), { mode, requireResourceVersion: !type.builtin }));
    case 'PATCH': {
      const patched = applyPatch(type, contentType, current(), body);
      if (!patched || typeof patched !== 'object' || Array.isArray(patched)) throw badRequest('the patch must leave a JSON object');
      return ok(store.update(type, ns, name, patched, { mode }));
    }
    case 'DELETE':
      if (subresource) throw methodNotAllowed();
      return ok(deleted(type, store.delete(type, ns, name)));
    default:
      throw methodNotAllowed();
  }
}

function dispatch(ctx: ServerContext, method: string, url: URL, contentType: string, body: unknown): Reply {
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments.length === 1 && ['healthz', 'readyz', 'livez'].includes(segments[0])) return { status: 200, body: 'ok' };
  if (segments.length === 1 && segments[0] === 'version') {
    return ok({ major: '1', minor: '31', gitVersion: 'v1.31.0-fledge-emulator', platform: 'linux/amd64' });
  }
  const routed = route(ctx, segments);
  if ('status' in routed) {
    if (method !== 'GET') throw methodNotAllowed();
    return routed;
  }
  return handleResource(ctx, method, routed, url.searchParams, contentType, body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function send(res: ServerResponse, record: RequestRecord, reply: Reply): void {
  record.status = reply.status;
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

/** The request listener for node:http. Faults apply first, then authentication, then the API. */
export function createRequestListener(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const method = (req.method ?? 'GET').toUpperCase();
      const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const raw = await readBody(req);
      let body: unknown;
      let parseError: string | undefined;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch (err) {
          parseError = (err as Error).message;
        }
      }
      const record: RequestRecord = {
        method,
        path: url.pathname,
        query: url.search.replace(/^\?/, ''),
        ...(contentType ? { contentType } : {}),
        status: 0,
        ...(body !== undefined ? { body } : {}),
      };
      ctx.requests.push(record);

      if (ctx.faults.isDown()) {
        req.socket.destroy();
        return;
      }
      const fault = ctx.faults.take(method, `${url.pathname}${url.search}`);
      if (fault?.delayMs) await sleep(fault.delayMs);
      if (fault?.onMatch) await fault.onMatch();
      if (fault?.status !== undefined) {
        send(res, record, {
          status: fault.status,
          body: fault.body ?? faultStatus(fault.status, url.pathname),
          ...(fault.status === 429 ? { headers: { 'Retry-After': '1' } } : {}),
        });
        return;
      }
      if (ctx.bearerToken !== undefined && req.headers.authorization !== `Bearer ${ctx.bearerToken}`) {
        send(res, record, { status: 401, body: statusBody(401, 'Unauthorized', 'Unauthorized') });
        return;
      }
      try {
        if (parseError) throw badRequest(`couldn't get version/kind; json parse error: ${parseError}`);
        send(res, record, dispatch(ctx, method, url, contentType, body));
      } catch (err) {
        if (err instanceof ApiStatusError) send(res, record, { status: err.code, body: err.toStatus() });
        else send(res, record, { status: 500, body: statusBody(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`) });
      }
    })();
  };
}
