// Seeded generators of malformed ECR push events and Canary/MetricTemplate manifest sets for the fuzz tests (no dependency).
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

/** The fake credential planted in every manifest set; no message and no output may ever show it. */
export const SECRET = 's3cr3t-TOKEN-xyz';
/** The planted user, so that the basic auth header Fledge builds from the URL is known too. */
export const SECRET_USER = 'fledge';
/** Every form the planted credential can take on the wire: as written, and as the basic auth header value. */
export const SECRET_FORMS = [SECRET, Buffer.from(`${SECRET_USER}:${SECRET}`).toString('base64')] as const;

export const DEFAULT_SEED = 20261116;

/** The run's seed: FUZZ_SEED (a number, or "random"), else the fixed default, so that CI is deterministic. */
export function seedFromEnv(env: Record<string, string | undefined>): number {
  const text = env.FUZZ_SEED?.trim();
  if (!text) return DEFAULT_SEED;
  if (text === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  const n = Number(text);
  return Number.isInteger(n) ? n >>> 0 : hash(text);
}

/** FNV-1a: a stable 32-bit hash, to derive one independent stream per case. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A case's own seed: a case can be regenerated alone from the run seed, its stream and its index. */
export function caseSeed(seed: number, stream: string, index: number): number {
  return hash(`${seed}:${stream}:${index}`);
}

export interface Rng {
  /** In [0, 1). */
  next(): number;
  /** In [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast and good enough to pick mutations. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)], chance: (p) => next() < p };
}

// ---------------------------------------------------------------------------------------------
// Plain JSON-like values: paths, reads and writes

type Json = any;
type Path = (string | number)[];

const isContainer = (value: unknown): value is Record<string, unknown> | unknown[] => typeof value === 'object' && value !== null;

/** Every path into a value (the root excluded), depth first. */
function paths(value: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (!isContainer(value) || prefix.length > 12) return out;
  for (const key of Array.isArray(value) ? value.keys() : Object.keys(value)) {
    const path = [...prefix, key];
    out.push(path);
    paths((value as Record<string | number, unknown>)[key], path, out);
  }
  return out;
}

function getAt(root: Json, path: Path): Json {
  return path.reduce((node, key) => (isContainer(node) ? (node as Record<string | number, unknown>)[key] : undefined), root);
}

function setAt(root: Json, path: Path, value: Json): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (isContainer(parent)) defineOwn(parent, key, value);
}

function deleteAt(root: Json, path: Path): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
  else if (isContainer(parent)) delete (parent as Record<string | number, unknown>)[key];
}

/** An own property even for `__proto__`, as JSON.parse and the YAML parser create them. */
function defineOwn(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const show = (path: Path) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '') || '<root>';

// ---------------------------------------------------------------------------------------------
// Value pools

const UNICODE = [
  'wéb', 'ｗｅｂ', 'web\u200b', '\u202eweb', '😀', 'we\u0000b', '\ud800', 'ǅ', 'İ', 'w\u0301eb', 'веб', '\u2028', '\ufeffweb', 'ﬀ', '\\', '\r\n',
];
const WEIRD = (r: Rng): Json =>
  r.pick<() => Json>([
    () => null,
    () => 0,
    () => -1,
    () => -0,
    () => 1.5,
    () => 1e308,
    () => Infinity,
    () => -Infinity,
    () => 2 ** 53 + 1,
    () => '',
    () => ' ',
    () => '0',
    () => 'null',
    () => 'NaN',
    () => 'true',
    () => '-1',
    () => '1e999',
    () => true,
    () => false,
    () => [],
    () => [null],
    () => ({}),
    () => ({ '': '' }),
    () => ['a', 1, null, {}],
    () => r.pick(UNICODE),
  ])();

/** A value of another type than `value`: numbers↔strings↔arrays↔null↔objects↔booleans. */
function otherType(r: Rng, value: Json): Json {
  const typeOf = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  for (let i = 0; i < 20; i++) {
    const candidate = r.pick<() => Json>([
      () => (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : r.pick([0, -1, 42, 1.5, 1e308])),
      () => (typeof value === 'number' ? String(value) : r.pick(['', 'x', '42', 'null'])),
      () => [value],
      () => [],
      () => null,
      () => ({ value }),
      () => ({}),
      () => r.chance(0.5),
    ])();
    if (typeOf(candidate) !== typeOf(value)) return candidate;
  }
  return null;
}

function nested(r: Rng, depth: number): Json {
  let value: Json = r.pick(['x', 1, null]);
  const asArray = r.chance(0.5);
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

function hugeString(r: Rng, sizes: readonly number[]): string {
  const unit = r.pick(['a', 'é', '😀', 'web-', '\u200b', '9']);
  return unit.repeat(Math.ceil(r.pick(sizes) / unit.length));
}

// ---------------------------------------------------------------------------------------------
// Fixtures

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

export const EVENT_FIXTURE_TEXT = fixture('ecr-push-event.json');
export const CANARY_FIXTURE_TEXT = fixture('seed-canary.yaml');
export const TEMPLATE_FIXTURE_TEXT = fixture('seed-metric-template.yaml');

export interface Mutated<T> {
  /** What was done, in order: `family: detail`. */
  readonly mutations: string[];
  readonly value: T;
}

// ---------------------------------------------------------------------------------------------
// ECR push events

const BAD = {
  source: ['aws.ecr ', 'AWS.ECR', 'aws.ec2', '', 'aws.ecr\u0000', 'ecr', 'aws.ecr\n'],
  'detail-type': ['ECR Image Scan', 'ECR Image Action ', 'ecr image action', 'ECR  Image Action', '', 'ECR Image Action\n'],
  'action-type': ['DELETE', 'push', 'PUSH ', 'REPLICATE', '', 'PUSH\n'],
  result: ['FAILURE', 'success', '', 'SUCCESS ', 'PENDING'],
  'image-digest': [
    'sha256:XYZ',
    'sha256:',
    'sha512:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234',
    `sha256:${'g'.repeat(64)}`,
    `sha256:${'a'.repeat(31)}`,
    `sha256:${'a'.repeat(65)}`,
    'SHA256:7F5B2640FE6FB4F46592DFD3410C4A79DAC4F89E4782432E0378ABCD1234',
    'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234\n',
    'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234@sha256:00',
    'sha256:../../etc/passwd',
    '7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234',
  ],
  'image-tag': ['latest\n', '../etc', 'v1.0;rm -rf /', 'a'.repeat(129), '-leading', '.dot', 'ta g', 'tag:1', 'tag@sha256', 'wéb', '\u0000', ' '],
  'repository-name': ['WEB', 'web/', '/web', '../web', 'web//x', 'web:1.0', 'web@sha256', 'wéb', 'web\n', ' web', '-web', 'web..x'],
  account: ['12345678901', '1234567890123', 'abcdefghijkl', '123456789012\n', ' 123456789012', '12345678901２'],
  region: ['us-west-2 ', 'US-WEST-2', 'us-west', 'uswest2', 'x', 'us-west-2\n', 'us-west-22', '', 'us-west-2.evil.com'],
} as const;

/** Values that are valid but that no Canary claims, or that claim it differently: never "malformed", always fine to return. */
const VALID_ALTERNATIVES = {
  'image-tag': ['', 'latest', '1.4.1', 'a'.repeat(128), 'v2_0-rc.1'],
  'repository-name': ['api', 'team/web', 'web2', 'web.x', 'web-x'],
  'image-digest': [`sha256:${'a'.repeat(32)}`, `sha256:${'0'.repeat(64)}`],
  region: ['cn-north-1', 'eu-central-1', 'us-gov-west-1'],
} as const;

const REQUIRED_EVENT_PATHS: Path[] = [
  ['source'], ['detail-type'], ['detail'], ['account'], ['region'],
  ['detail', 'action-type'], ['detail', 'result'], ['detail', 'repository-name'], ['detail', 'image-digest'],
];

const eventPathOf = (field: string): Path => (field in BAD && !['source', 'detail-type', 'account', 'region'].includes(field) ? ['detail', field] : [field]);

type EventMutation = (r: Rng, event: Json) => { event: Json; note: string };

/** Mutations that each make the event one Fledge must refuse (or ignore): no rollout may start from them. */
const BREAKING_EVENT_MUTATIONS: Record<string, EventMutation> = {
  drop: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS);
    deleteAt(event, path);
    return { event, note: `drop ${show(path)}` };
  },
  retype: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS);
    setAt(event, path, path.length === 1 && path[0] === 'detail' ? r.pick([null, 'detail', 42, []]) : otherType(r, getAt(event, path)));
    return { event, note: `retype ${show(path)}` };
  },
  huge: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS.filter((p) => p.join() !== 'detail'));
    setAt(event, path, hugeString(r, [10_000, 100_000, 250_000]));
    return { event, note: `huge string at ${show(path)}` };
  },
  unicode: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS.filter((p) => p.join() !== 'detail'));
    const u = r.pick(UNICODE);
    const old = String(getAt(event, path));
    setAt(event, path, r.chance(0.5) ? `${old}${u}` : `${u}${old}`);
    return { event, note: `unicode ${JSON.stringify(u)} at ${show(path)}` };
  },
  number: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS.filter((p) => p.join() !== 'detail'));
    const value = r.pick([-1, 0, -0, 123456789012, 1.5, Infinity, -Infinity, 2 ** 53 + 1, 1e308]);
    setAt(event, path, value);
    return { event, note: `number ${value} at ${show(path)}` };
  },
  deep: (r, event) => {
    const path = r.pick(REQUIRED_EVENT_PATHS);
    // 6000 levels is 12 KB of JSON, well inside an EventBridge event (256 KB).
    const depth = r.pick([10, 100, 1000, 6000, 20_000]);
    setAt(event, path, nested(r, depth));
    return { event, note: `nested ${depth} deep at ${show(path)}` };
  },
  proto: (r, event) => {
    // The valid value moves under an own `__proto__` (or `constructor`) key: it must not be found through the prototype chain.
    const key = r.pick(['__proto__', 'constructor', 'prototype']);
    const path = r.pick(REQUIRED_EVENT_PATHS.filter((p) => p.join() !== 'detail'));
    const parentPath = path.slice(0, -1);
    const parent = parentPath.length ? getAt(event, parentPath) : event;
    const field = path[path.length - 1];
    if (!isContainer(parent)) return { event, note: `no ${show(parentPath)} to hide ${show(path)} in` };
    const holder = {};
    defineOwn(holder, field, (parent as Record<string | number, unknown>)[field]);
    delete (parent as Record<string | number, unknown>)[field];
    defineOwn(parent, key, holder);
    return { event, note: `${show(path)} moved under own key ${key}` };
  },
  source: (r, event) => {
    event.source = r.pick(BAD.source);
    return { event, note: `source ${JSON.stringify(event.source)}` };
  },
  'detail-type': (r, event) => {
    event['detail-type'] = r.pick(BAD['detail-type']);
    return { event, note: `detail-type ${JSON.stringify(event['detail-type'])}` };
  },
  field: (r, event) => {
    const field = r.pick(['action-type', 'result', 'image-digest', 'image-tag', 'repository-name', 'account', 'region'] as const);
    const value = r.pick(BAD[field]);
    setAt(event, eventPathOf(field), value);
    return { event, note: `${field} ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}` };
  },
  garbage: (r, event) => {
    const value = r.pick<() => Json>([
      () => null,
      () => 0,
      () => -1,
      () => '',
      () => 'garbage',
      () => '{}',
      () => EVENT_FIXTURE_TEXT,
      () => [],
      () => [event],
      () => true,
      () => ({}),
      () => ({ detail: event }),
      () => event.detail,
      () => nested(r, 50),
      () => ({ Records: [{ eventSource: 'aws:s3' }] }),
    ])();
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 30)) : Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
    return { event: value, note: `whole event replaced by ${shown}` };
  },
};

/** Mutations after which the event may still be valid: fine for Initialize called directly, never sent to the state machine. */
const OTHER_EVENT_MUTATIONS: Record<string, EventMutation> = {
  alternative: (r, event) => {
    const field = r.pick(Object.keys(VALID_ALTERNATIVES) as (keyof typeof VALID_ALTERNATIVES)[]);
    const value = r.pick(VALID_ALTERNATIVES[field]);
    setAt(event, eventPathOf(field), value);
    return { event, note: `valid ${field} ${JSON.stringify(value.slice(0, 40))}` };
  },
  'drop-any': (r, event) => {
    const all = paths(event);
    if (all.length === 0) return { event, note: 'drop nothing' };
    const path = r.pick(all);
    deleteAt(event, path);
    return { event, note: `drop ${show(path)}` };
  },
  'retype-any': (r, event) => {
    const all = paths(event);
    if (all.length === 0) return { event, note: 'retype nothing' };
    const path = r.pick(all);
    setAt(event, path, r.chance(0.5) ? otherType(r, getAt(event, path)) : WEIRD(r));
    return { event, note: `retype ${show(path)}` };
  },
  noise: (r, event) => noise(r, event),
};

/** Unknown fields, prototype keys and junk where Fledge does not look: must change nothing. */
function noise(r: Rng, event: Json): { event: Json; note: string } {
  if (!isContainer(event) || Array.isArray(event)) return { event, note: 'noise on a non-object' };
  const where = isContainer(event.detail) && r.chance(0.5) ? event.detail : event;
  const key = r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'extra', '', '😀', 'detail ', 'valueOf']);
  defineOwn(where, key, r.chance(0.5) ? WEIRD(r) : { source: 'aws.ecr', polluted: true });
  if (r.chance(0.3)) event.resources = [WEIRD(r), WEIRD(r)];
  if (r.chance(0.3)) event.time = WEIRD(r);
  return { event, note: `noise key ${JSON.stringify(key)}${where === event ? '' : ' in detail'}` };
}

export const EVENT_FAMILIES = [...Object.keys(BREAKING_EVENT_MUTATIONS), ...Object.keys(OTHER_EVENT_MUTATIONS)];

/** A mutation that needs a field an earlier mutation removed is skipped, not a generator crash. */
function attempt<T>(mutate: () => T): T | undefined {
  try {
    return mutate();
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
}

function baseEvent(): Json {
  return JSON.parse(EVENT_FIXTURE_TEXT);
}

/** One to three mutations of the fixture event, any of them. */
export function eventCase(seed: number, index: number): Mutated<unknown> {
  const r = rng(caseSeed(seed, 'events', index));
  let event = baseEvent();
  const mutations: string[] = [];
  const count = r.pick([1, 1, 1, 2, 2, 3]);
  const all = { ...BREAKING_EVENT_MUTATIONS, ...OTHER_EVENT_MUTATIONS };
  for (let i = 0; i < count; i++) {
    const family = r.pick(Object.keys(all));
    if (!isContainer(event) || Array.isArray(event)) break; // already garbage: nothing left to mutate
    const result = attempt(() => all[family](r, event));
    event = result?.event ?? event;
    mutations.push(`${family}: ${result?.note ?? 'skipped (an earlier mutation removed what it changes)'}`);
  }
  return { mutations, value: event };
}

function deepAtMost(r: Rng, event: Json, maxDepth: number): { event: Json; note: string } {
  const path = r.pick(REQUIRED_EVENT_PATHS);
  const depth = r.pick([10, 100, maxDepth]);
  setAt(event, path, nested(r, depth));
  return { event, note: `nested ${depth} deep at ${show(path)}` };
}

/** One breaking mutation, plus harmless noise: an event no rollout may start from. */
export function malformedEventCase(seed: number, index: number): Mutated<unknown> {
  const r = rng(caseSeed(seed, 'malformed-events', index));
  const family = r.pick(Object.keys(BREAKING_EVENT_MUTATIONS));
  // The local interpreter copies its input recursively and overflows its stack past a few thousand levels
  // (so does JSON.stringify): deeper nesting goes to Initialize directly, not to the state machine.
  const broken = family === 'deep' ? deepAtMost(r, baseEvent(), 1000) : BREAKING_EVENT_MUTATIONS[family](r, baseEvent());
  const mutations = [`${family}: ${broken.note}`];
  let event = broken.event;
  for (let i = r.int(3); i > 0; i--) {
    const result = noise(r, event);
    event = result.event;
    mutations.push(`noise: ${result.note}`);
  }
  // The state machine's input is JSON: what cannot be JSON cannot reach it.
  return { mutations, value: event === undefined ? null : event };
}

// ---------------------------------------------------------------------------------------------
// Manifest sets

export interface ManifestContext {
  /** A metrics server that answers Prometheus's vector(1) (and anything else) on every path but /fail*. */
  readonly metricsPort: number;
  /** A port nothing listens on. */
  readonly closedPort: number;
}

export type ManifestFiles = Record<string, string>;

interface Docs {
  canary: Json;
  errorRate: Json;
  latency: Json;
}

const local = (ctx: ManifestContext, path = '') => `http://127.0.0.1:${ctx.metricsPort}${path}`;
const withSecret = (ctx: ManifestContext, path = '') => `http://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.metricsPort}${path}`;

/**
 * The valid set every case starts from: the seed Canary and MetricTemplate, with their metrics
 * pointing at the local metrics server and a header that is no credential. Credentials are
 * refused in manifests, so the mutations plant them (URL userinfo, headers, the metrics
 * server URL) and the properties check that no message shows them.
 */
function baseDocs(ctx: ManifestContext): Docs {
  const canary = parse(CANARY_FIXTURE_TEXT);
  canary.spec.analysis.metrics.push({ name: 'latency', templateRef: { name: 'latency' }, thresholdRange: { min: 0, max: 500 } });
  canary.spec.fledge = { metricsServer: `prometheus:${local(ctx)}` };
  const errorRate = parse(TEMPLATE_FIXTURE_TEXT);
  errorRate.spec.provider.address = local(ctx);
  errorRate.spec.provider.headers = { 'X-Scope-OrgID': 'tenant-a' };
  const latency = parse(TEMPLATE_FIXTURE_TEXT);
  latency.metadata.name = 'latency';
  latency.spec.provider = { type: 'web', address: local(ctx, '/'), jsonPath: '$.value' };
  latency.spec.query = '/metric/latency?workload={{ target }}&window={{ interval }}';
  return { canary, errorRate, latency };
}

const FILE_OF: Record<keyof Docs, string> = { canary: 'canary.yaml', errorRate: 'error-rate.yaml', latency: 'latency.yaml' };

export function baseManifests(ctx: ManifestContext): ManifestFiles {
  const docs = baseDocs(ctx);
  return Object.fromEntries(Object.entries(FILE_OF).map(([doc, file]) => [file, stringify(docs[doc as keyof Docs])]));
}

type DocMutation = (r: Rng, docs: Docs, ctx: ManifestContext) => string;

const analysisOf = (docs: Docs) => docs.canary.spec.analysis;
const docKey = (r: Rng): keyof Docs => r.pick(['canary', 'canary', 'errorRate', 'latency'] as const);

function genericPath(r: Rng, docs: Docs): { doc: keyof Docs; path: Path } {
  const doc = docKey(r);
  return { doc, path: r.pick(paths(docs[doc])) };
}

const DOC_MUTATIONS: Record<string, DocMutation> = {
  drop: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    deleteAt(docs[doc], path);
    return `${FILE_OF[doc]}: drop ${show(path)}`;
  },
  retype: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    setAt(docs[doc], path, r.chance(0.6) ? otherType(r, getAt(docs[doc], path)) : WEIRD(r));
    return `${FILE_OF[doc]}: retype ${show(path)}`;
  },
  huge: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    setAt(docs[doc], path, hugeString(r, [1_000, 20_000, 100_000]));
    return `${FILE_OF[doc]}: huge string at ${show(path)}`;
  },
  unicode: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    const u = r.pick(UNICODE);
    const old = getAt(docs[doc], path);
    setAt(docs[doc], path, typeof old === 'string' ? (r.chance(0.5) ? `${old}${u}` : `${u}${old}`) : u);
    return `${FILE_OF[doc]}: unicode ${JSON.stringify(u)} at ${show(path)}`;
  },
  number: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    const value = r.pick([-1, 0, -0, 0.5, 1e308, Infinity, -Infinity, NaN, 2 ** 53 + 1, 101, 65536]);
    setAt(docs[doc], path, value);
    return `${FILE_OF[doc]}: number ${value} at ${show(path)}`;
  },
  deep: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    const depth = r.pick([10, 100, 400]);
    setAt(docs[doc], path, nested(r, depth));
    return `${FILE_OF[doc]}: nested ${depth} deep at ${show(path)}`;
  },
  proto: (r, docs) => {
    const { doc, path } = genericPath(r, docs);
    const target = getAt(docs[doc], path);
    const key = r.pick(['__proto__', 'constructor', 'prototype', 'toString']);
    const container = isContainer(target) && !Array.isArray(target) ? target : getAt(docs[doc], path.slice(0, -1));
    if (!isContainer(container) || Array.isArray(container)) return `${FILE_OF[doc]}: no object at ${show(path)} for ${key}`;
    defineOwn(container, key, r.pick<Json>([{ kind: 'Canary', name: 'x', polluted: true }, 'x', 1, null, [1]]));
    return `${FILE_OF[doc]}: own key ${key} at ${show(path)}`;
  },
  weights: (r, docs) => {
    const analysis = analysisOf(docs);
    return r.pick<() => string>([
      () => ((analysis.stepWeight = r.pick([0, -5, 101, 1000, 10.5, '10', 60])), `stepWeight ${analysis.stepWeight}`),
      () => ((analysis.maxWeight = r.pick([0, 101, 5, -1, 50.5])), `maxWeight ${analysis.maxWeight}`),
      () => {
        delete analysis.stepWeight;
        analysis.stepWeights = r.pick<Json>([[10, 10], [50, 20], [0, 10], [10, 101], [], [10, '20'], [-10], [10, 20, 15]]);
        return `stepWeights ${JSON.stringify(analysis.stepWeights)}`;
      },
      () => ((analysis.stepWeights = [10, 20]), 'both stepWeight and stepWeights'),
      () => (delete analysis.stepWeight, 'neither stepWeight nor stepWeights'),
    ])();
  },
  'min>max': (r, docs) => {
    const metric = r.pick(analysisOf(docs).metrics as Json[]);
    metric.thresholdRange = r.pick<Json>([{ min: 5, max: 1 }, { min: 0.1, max: 0 }, {}, null, { min: NaN }, { max: Infinity }, { min: '1' }]);
    return `metric ${metric.name} thresholdRange ${JSON.stringify(metric.thresholdRange)}`;
  },
  'unknown-template': (r, docs) => {
    const metric = analysisOf(docs).metrics[0];
    metric.templateRef = r.pick<Json>([{ name: 'nope' }, { name: 'error-rate', namespace: 'other' }, { name: 'Error-Rate' }, {}]);
    return `templateRef ${JSON.stringify(metric.templateRef)}`;
  },
  'unknown-provider': (r, docs) => {
    const doc = r.pick(['errorRate', 'latency'] as const);
    docs[doc].spec.provider.type = r.pick(['datadog', 'cloudwatch', 'Prometheus', '', 'graphite', 'newrelic', 'web ']);
    return `${FILE_OF[doc]}: provider type ${JSON.stringify(docs[doc].spec.provider.type)}`;
  },
  'unknown-router': (r, docs) => {
    docs.canary.spec.provider = r.pick(['istio', 'linkerd', 'nginx', 'alb', 'ALB', 'gatewayapi:v2', 'kubernetes', 'Kubernetes', 'appmesh', '', 'GatewayAPI', 'gatewayapi:v1 ']);
    return `spec.provider ${JSON.stringify(docs.canary.spec.provider)}`;
  },
  duration: (r, docs) => {
    const value = r.pick<Json>(['1x', '-1m', '0s', '', '1m30', 'PT1M', 60, '1 m', '1e3s', '1500ms', '0.5s', '99999999999h', 'm', '1h1h', '1.5m', '0ms']);
    const where = r.pick(['analysis.interval', 'metrics[0].interval', 'webhooks[0].timeout']);
    if (where === 'analysis.interval') analysisOf(docs).interval = value;
    else if (where === 'metrics[0].interval') analysisOf(docs).metrics[0].interval = value;
    else analysisOf(docs).webhooks[0].timeout = value;
    return `${where} ${JSON.stringify(value)}`;
  },
  'webhook-type': (r, docs) => {
    const hook = analysisOf(docs).webhooks[0];
    hook.type = r.pick<Json>(['confirm-rollout', 'confirm-promotion', 'confirm-traffic-increase', 'rollback', 'event', 'pre-rollout ', 'Rollout', 42, null]);
    return `webhook type ${JSON.stringify(hook.type)}`;
  },
  'webhook-url': (r, docs) => {
    const hook = analysisOf(docs).webhooks[0];
    hook.url = r.pick<Json>(['not a url', '', 'http://', 'ftp://x', '//x', 42, 'http://a b']);
    return `webhook url ${JSON.stringify(hook.url)}`;
  },
  name: (r, docs) => {
    const value = r.pick<Json>(['Web', 'web_1', 'a'.repeat(64), '-web', 'web-', '', 'wéb', 'web.x']);
    const where = r.pick(['canary metadata.name', 'template metadata.name', 'targetRef.name', 'fledge.route', 'service.name']);
    if (where === 'canary metadata.name') docs.canary.metadata.name = value;
    else if (where === 'template metadata.name') docs.errorRate.metadata.name = value;
    else if (where === 'targetRef.name') docs.canary.spec.targetRef.name = value;
    else if (where === 'fledge.route') docs.canary.spec.fledge.route = value;
    else docs.canary.spec.service.name = value;
    return `${where} ${JSON.stringify(value)}`;
  },
  target: (r, docs) =>
    r.pick<() => string>([
      () => ((docs.canary.spec.targetRef.name = 'api'), 'targetRef.name api (no such Deployment)'),
      () => ((docs.canary.spec.targetRef.kind = r.pick(['StatefulSet', 'DaemonSet', 'deployment'])), `targetRef.kind ${docs.canary.spec.targetRef.kind}`),
      () => ((docs.canary.spec.service.name = 'other'), 'service.name other (no such Service or route)'),
      () => ((docs.canary.spec.fledge.route = 'other'), 'fledge.route other (no such HTTPRoute)'),
      () => ((docs.canary.spec.fledge.container = r.pick(['nope', '__proto__', 'constructor', ''])), `fledge.container ${JSON.stringify(docs.canary.spec.fledge.container)}`),
      () => ((docs.canary.spec.service.port = r.pick<Json>([0, 65536, '80', -1, 80.5, null])), `service.port ${docs.canary.spec.service.port}`),
    ])(),
  namespace: (r, docs) => {
    const ns = r.pick(['dev', 'Prod', 'default', '']);
    docs.canary.metadata.namespace = ns;
    if (r.chance(0.5)) {
      docs.errorRate.metadata.namespace = ns;
      docs.latency.metadata.namespace = ns;
    }
    return `namespace ${JSON.stringify(ns)}${docs.errorRate.metadata.namespace === ns ? ' (templates too)' : ''}`;
  },
  fledge: (r, docs) => {
    const fledge = docs.canary.spec.fledge;
    return r.pick<() => string>([
      () => ((fledge.tagPattern = r.pick(['(', '[', '*', 'v\\d+', '1\\.4\\..*', '(?<n>x', '\\'])), `tagPattern ${JSON.stringify(fledge.tagPattern)}`),
      () => ((fledge.imageRepository = r.pick(['api', '', 'WEB', 'web/'])), `imageRepository ${JSON.stringify(fledge.imageRepository)}`),
      () => ((fledge.failedCheckCounting = r.pick(['sometimes', 'Consecutive', ''])), `failedCheckCounting ${JSON.stringify(fledge.failedCheckCounting)}`),
      () => ((fledge.cluster = r.pick<Json>(['', 42, []])), `cluster ${JSON.stringify(fledge.cluster)}`),
    ])();
  },
  'metrics-server': (r, docs, ctx) => {
    const value = r.pick<Json>([
      'influx:http://x',
      'prometheus:',
      `prometheus:ftp://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.metricsPort}`,
      `prometheus:http://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.metricsPort} x`,
      `web:http://127.0.0.1:${ctx.closedPort}`,
      `prometheus:http://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.closedPort}`,
      `prometheus:${withSecret(ctx, '/fail')}`,
      `web:${withSecret(ctx)}`,
      'prometheus:http://127.0.0.1:1',
      '',
      42,
    ]);
    docs.canary.spec.fledge.metricsServer = value;
    return `metricsServer ${JSON.stringify(value)}`;
  },
  address: (r, docs, ctx) => {
    const doc = r.pick(['errorRate', 'latency'] as const);
    const value = r.pick<Json>([
      `http://127.0.0.1:${ctx.closedPort}`,
      withSecret(ctx, '/fail'),
      'not a url',
      `ftp://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.metricsPort}`,
      `${withSecret(ctx)} x`,
      `http://${SECRET_USER}:${SECRET}@[::1`,
      `http://${SECRET_USER}:${SECRET}@127.0.0.1:${ctx.metricsPort}😀`,
      `mailto:${SECRET_USER}:${SECRET}@example.com`,
      '',
      withSecret(ctx, '/notjson'),
    ]);
    docs[doc].spec.provider.address = value;
    return `${FILE_OF[doc]}: address ${JSON.stringify(value)}`;
  },
  query: (r, docs) => {
    const doc = r.pick(['errorRate', 'latency'] as const);
    docs[doc].spec.query = r.pick<Json>(['{{ nope }}', '{{ variables.missing }}', '', '{{ target', 'x'.repeat(50_000), '{{ constructor }}', '{{ variables.__proto__ }}', 42]);
    return `${FILE_OF[doc]}: query ${JSON.stringify(String(docs[doc].spec.query).slice(0, 30))}`;
  },
  'json-path': (r, docs) => {
    docs.latency.spec.provider.jsonPath = r.pick<Json>(['value', '$..value', '$.[', '$[abc]', '', '$', "$['a", 42]);
    return `jsonPath ${JSON.stringify(docs.latency.spec.provider.jsonPath)}`;
  },
  headers: (r, docs) => {
    const doc = r.pick(['errorRate', 'latency'] as const);
    const provider = docs[doc].spec.provider;
    provider.headers = r.pick<Json>([
      { Authorization: [`Bearer ${SECRET}`] },
      { Authorization: { token: SECRET } },
      { Authorization: 42 },
      { Authorization: `Bearer ${SECRET}\n` },
      { Authorization: `Bearer ${SECRET}€` },
      `Authorization: Bearer ${SECRET}`,
      [{ Authorization: `Bearer ${SECRET}` }],
      { 'Bad Header': 'x', Authorization: `Bearer ${SECRET}` },
      { Authorization: null },
    ]);
    return `${FILE_OF[doc]}: headers ${JSON.stringify(provider.headers).replaceAll(SECRET, '<secret>')}`;
  },
  deadline: (r, docs) => {
    docs.canary.spec.progressDeadlineSeconds = r.pick<Json>([0, -1, 1.5, '600', 1e20, null]);
    return `progressDeadlineSeconds ${docs.canary.spec.progressDeadlineSeconds}`;
  },
  threshold: (r, docs) => {
    analysisOf(docs).threshold = r.pick<Json>([0, -1, 1.5, '3', null, 1e9]);
    return `threshold ${analysisOf(docs).threshold}`;
  },
  'api-version': (r, docs) => {
    const doc = docKey(r);
    docs[doc].apiVersion = r.pick<Json>(['flagger.app/v1alpha1', 'flagger.app/v1', '', 42, 'v1']);
    return `${FILE_OF[doc]}: apiVersion ${JSON.stringify(docs[doc].apiVersion)}`;
  },
  kind: (r, docs) => {
    const doc = docKey(r);
    docs[doc].kind = r.pick<Json>(['Deployment', 'canary', 'CanaryX', '', null, 42, 'AlertProvider', 'MetricTemplate', 'Canary']);
    return `${FILE_OF[doc]}: kind ${JSON.stringify(docs[doc].kind)}`;
  },
  metrics: (r, docs) => {
    const metrics = analysisOf(docs).metrics as Json[];
    return r.pick<() => string>([
      () => (metrics.push({ ...metrics[0] }), 'duplicate metric name'),
      () => (metrics.push({ name: 'custom', thresholdRange: { max: 1 } }), 'metric with neither templateRef nor query'),
      () => (metrics.push({ name: 'inline', query: 'sum(up)', thresholdRange: { max: 1 } }), 'inline query'),
      () => ((metrics[0].templateVariables = r.pick<Json>([{ a: 1 }, { a: null }, 'a=b', [1]])), 'templateVariables of the wrong type'),
      () => ((metrics[0].name = r.pick<Json>(['', 42, null])), `metric name ${JSON.stringify(metrics[0].name)}`),
      () => ((analysisOf(docs).metrics = r.pick<Json>([null, {}, 'error-rate', [null], [[]]])), 'metrics of the wrong type'),
    ])();
  },
  iterations: (r, docs) => {
    analysisOf(docs).iterations = r.pick([10, 0, -1]);
    if (r.chance(0.7)) delete analysisOf(docs).stepWeight;
    return `iterations ${analysisOf(docs).iterations}${analysisOf(docs).stepWeight === undefined ? ' without stepWeight' : ''}`;
  },
};

type TextMutation = (r: Rng, files: ManifestFiles) => string;

const YAML_INDICATORS = [':', '"', "'", '{', '}', '[', ']', '#', '&', '*', '!', '|', '>', '%', '@', '`', '-', '?'];

const pickFile = (r: Rng, files: ManifestFiles): string => {
  const names = Object.keys(files);
  return names.length ? r.pick(names) : 'canary.yaml';
};

/** A line to break: often one holding a credential, where a hand edit is as likely as anywhere. */
function mutateLine(r: Rng, text: string, change: (line: string) => string): { text: string; line: number } {
  const lines = text.split('\n');
  const sensitive = lines.map((l, i) => (l.includes(SECRET) ? i : -1)).filter((i) => i >= 0);
  const index = sensitive.length && r.chance(0.3) ? r.pick(sensitive) : r.int(Math.max(1, lines.length - 1));
  lines[index] = change(lines[index] ?? '');
  return { text: lines.join('\n'), line: index + 1 };
}

/** A line holding `key: value` (a scalar), to hang an alias or anchor on. */
function scalarLine(r: Rng, text: string): number | undefined {
  const lines = text.split('\n');
  const candidates = lines.map((l, i) => (/^\s*(- )?[\w-]+: \S/.test(l) ? i : -1)).filter((i) => i >= 0);
  return candidates.length ? r.pick(candidates) : undefined;
}

const TEXT_MUTATIONS: Record<string, TextMutation> = {
  'yaml-syntax': (r, files) => {
    const file = pickFile(r, files);
    const kind = r.pick(['quote', 'colon', 'tab', 'flow', 'indent', 'truncate', 'delete-line', 'duplicate-line', 'swap-lines', 'char', 'nul', 'bom', 'crlf', 'yaml-1.1', 'directive']);
    const text = files[file] ?? '';
    const at = (change: (line: string) => string) => {
      const result = mutateLine(r, text, change);
      files[file] = result.text;
      return `${file}: yaml ${kind} at line ${result.line}`;
    };
    switch (kind) {
      case 'quote':
        return at((l) => { const i = r.int(l.length + 1); return `${l.slice(0, i)}${r.pick(['"', "'"])}${l.slice(i)}`; });
      case 'colon':
        return at((l) => `${l}: :`);
      case 'tab':
        return at((l) => l.replace(/^ +/, '\t'));
      case 'flow':
        return at((l) => `${l} ${r.pick(['{', '[', ']', '}', '{a: [}'])}`);
      case 'indent':
        return at((l) => (r.chance(0.5) ? ` ${l}` : l.replace(/^ /, '')));
      case 'truncate':
        files[file] = text.slice(0, r.int(text.length));
        return `${file}: truncated to ${files[file].length} chars`;
      case 'delete-line':
        return at(() => '');
      case 'duplicate-line':
        return at((l) => `${l}\n${l}`);
      case 'swap-lines': {
        const lines = text.split('\n');
        const i = r.int(lines.length);
        const j = r.int(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        files[file] = lines.join('\n');
        return `${file}: swapped lines ${i + 1} and ${j + 1}`;
      }
      case 'char':
        return at((l) => {
          const i = r.int(l.length + 1);
          return `${l.slice(0, i)}${r.pick(YAML_INDICATORS)}${l.slice(i + 1)}`;
        });
      case 'nul':
        return at((l) => `${l}\u0000`);
      case 'bom':
        files[file] = `\ufeff${text}`;
        return `${file}: byte order mark`;
      case 'crlf':
        files[file] = text.replace(/\n/g, '\r\n');
        return `${file}: CRLF line ends`;
      case 'yaml-1.1':
        files[file] = `%YAML 1.1\n---\n${text}`;
        return `${file}: %YAML 1.1`;
      default:
        files[file] = `%TAG !e! tag:example.com,2000:\n---\n${text}`;
        return `${file}: %TAG directive`;
    }
  },
  'yaml-alias': (r, files) => {
    const file = pickFile(r, files);
    const text = files[file] ?? '';
    const kind = r.pick(['self', 'undefined', 'bomb', 'valid', 'merge']);
    const line = scalarLine(r, text);
    if (kind === 'bomb') {
      // Five levels of ten aliases each: 10^5 nodes from a few hundred bytes.
      const levels = ['x-a: &a [x, x, x, x, x, x, x, x, x, x]'];
      for (const [name, previous] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) {
        levels.push(`x-${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
      }
      files[file] = `${text.replace(/\n?$/, '\n')}${levels.join('\n')}\n`;
      return `${file}: alias bomb (10^5 nodes)`;
    }
    if (line === undefined) return `${file}: no scalar line for an alias`;
    const lines = text.split('\n');
    const [, head] = /^(\s*(?:- )?[\w-]+:)/.exec(lines[line])!;
    lines[line] = {
      self: `${head} &loop [*loop]`,
      undefined: `${head} *nope`,
      valid: `${head} &ok ${lines[line].slice(head.length).trim()}`,
      merge: `${head} {<<: {a: 1}}`,
    }[kind as 'self' | 'undefined' | 'valid' | 'merge'];
    files[file] = lines.join('\n');
    return `${file}: ${kind} alias at line ${line + 1}`;
  },
  'multi-doc': (r, files) => {
    const file = pickFile(r, files);
    const text = files[file] ?? '';
    const extra = r.pick<[string, string]>([
      ['a copy of itself', text],
      ['an empty document', ''],
      ['an unknown kind', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n'],
      ['a number', '42'],
      ['a list', '- a\n- b'],
      ['a string', '"Canary"'],
      ['the other files', Object.entries(files).filter(([name]) => name !== file).map(([, t]) => t).join('\n---\n')],
      ['a document end marker', '...'],
    ]);
    files[file] = r.chance(0.8) ? `${text.replace(/\n?$/, '\n')}---\n${extra[1]}` : `---\n${extra[1]}\n---\n${text}`;
    return `${file}: plus ${extra[0]} as another document`;
  },
  file: (r, files) => {
    const kind = r.pick(['delete', 'empty', 'comments', 'extra-garbage', 'extra-txt', 'yml-copy']);
    const file = pickFile(r, files);
    switch (kind) {
      case 'delete':
        delete files[file];
        return `deleted ${file}`;
      case 'empty':
        files[file] = '';
        return `${file} empty`;
      case 'comments':
        files[file] = '# nothing here\n# at all\n';
        return `${file} only comments`;
      case 'extra-garbage':
        files['zz-extra.yaml'] = garbageText(r);
        return 'extra garbage file zz-extra.yaml';
      case 'extra-txt':
        files['notes.txt'] = garbageText(r);
        return 'extra notes.txt (not YAML, must be skipped)';
      default:
        files[file.replace(/\.yaml$/, '-copy.yml')] = files[file] ?? '';
        return `${file} copied to a .yml file`;
    }
  },
  garbage: (r, files) => {
    const file = pickFile(r, files);
    files[file] = garbageText(r);
    return `${file} replaced by garbage`;
  },
};

function garbageText(r: Rng): string {
  return r.pick<() => string>([
    () => Array.from({ length: 1 + r.int(400) }, () => String.fromCharCode(r.int(0x250))).join(''),
    () => Array.from({ length: 1 + r.int(200) }, () => r.pick([':', '-', ' ', '\n', '{', '}', '[', ']', '"', 'a', '#', '&', '*', '!', '|', '>', '?', ','])).join(''),
    () => 'null',
    () => '[]',
    () => '{}',
    () => '~',
    () => EVENT_FIXTURE_TEXT,
    () => '\u0000\u0001\u0002',
    () => 'kind: Canary',
    () => 'kind: MetricTemplate\nspec: 42',
  ])();
}

export const MANIFEST_FAMILIES = [...Object.keys(DOC_MUTATIONS), ...Object.keys(TEXT_MUTATIONS)];

/** One to three mutations of the valid set: field-level ones on the documents, then text-level ones on the files. */
export function manifestCase(seed: number, index: number, ctx: ManifestContext, stream = 'manifests'): Mutated<ManifestFiles> {
  const r = rng(caseSeed(seed, stream, index));
  const docs = baseDocs(ctx);
  const count = r.pick([1, 1, 1, 2, 2, 3]);
  const families = Array.from({ length: count }, () => r.pick(MANIFEST_FAMILIES));
  // Field-level mutations first (on documents), then text-level ones (on the files they are written to).
  families.sort((a, b) => Number(a in TEXT_MUTATIONS) - Number(b in TEXT_MUTATIONS));
  const mutations: string[] = [];
  let files: ManifestFiles | undefined;
  for (const family of families) {
    if (family in DOC_MUTATIONS) {
      mutations.push(`${family}: ${attempt(() => DOC_MUTATIONS[family](r, docs, ctx)) ?? 'skipped (an earlier mutation removed what it changes)'}`);
      continue;
    }
    files ??= Object.fromEntries(Object.entries(FILE_OF).map(([doc, file]) => [file, stringify(docs[doc as keyof Docs])]));
    mutations.push(`${family}: ${TEXT_MUTATIONS[family](r, files)}`);
  }
  files ??= Object.fromEntries(Object.entries(FILE_OF).map(([doc, file]) => [file, stringify(docs[doc as keyof Docs])]));
  return { mutations, value: files };
}
