// Patch algorithms the Kubernetes API server accepts: JSON merge patch, JSON patch and an approximated strategic merge patch.

/** A patch that cannot be applied; the server turns it into a 422 (or a 400 when the patch is malformed). */
export class PatchError extends Error {
  override readonly name = 'PatchError';
  constructor(
    message: string,
    /** Malformed patch document (400) rather than a well-formed patch that does not apply (422). */
    readonly malformed = false,
  ) {
    super(message);
  }
}

const isObject = (value: unknown): value is Record<string, any> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));

/** RFC 7386: objects merge recursively, null deletes, everything else (arrays included) replaces. */
export function mergePatch(target: unknown, patch: unknown): any {
  if (!isObject(patch)) return clone(patch);
  const result: Record<string, any> = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// ---------------------------------------------------------------- JSON patch (RFC 6902)

interface JsonPatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`, true);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(container: unknown[], token: string, pointer: string, allowEnd: boolean): number {
  if (allowEnd && token === '-') return container.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`invalid array index ${token} in ${pointer}`);
  const index = Number(token);
  const limit = allowEnd ? container.length : container.length - 1;
  if (index > limit) throw new PatchError(`array index ${index} out of bounds in ${pointer}`);
  return index;
}

/** The parent container of a pointer and the last token, failing like the Go jsonpatch library when the parent is missing. */
function locateParent(doc: any, pointer: string, op: string): { parent: any; key: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError(`${op} operation does not apply: the root document cannot be the target`);
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, pointer, false)];
    else if (isObject(node) && token in node) node = node[token];
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  if (!Array.isArray(node) && !isObject(node)) {
    throw new PatchError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  return { parent: node, key: tokens[tokens.length - 1] };
}

function getAt(doc: any, pointer: string, op: string): unknown {
  let node = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, pointer, false)];
    else if (isObject(node) && token in node) node = node[token];
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  return node;
}

function addAt(doc: any, pointer: string, value: unknown): any {
  if (pointer === '') return clone(value);
  const { parent, key } = locateParent(doc, pointer, 'add');
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

function removeAt(doc: any, pointer: string, op = 'remove'): unknown {
  const { parent, key } = locateParent(doc, pointer, op);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, pointer, false), 1)[0];
  if (!(key in parent)) throw new PatchError(`Unable to remove nonexistent key: ${key}: missing value`);
  const removed = parent[key];
  delete parent[key];
  return removed;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && deepEqual(a[key], b[key]));
  }
  return false;
}

/** RFC 6902, including `test`; operations apply in order to a copy, so a failing patch changes nothing. */
export function jsonPatch(target: unknown, operations: unknown): any {
  if (!Array.isArray(operations)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', true);
  let doc = clone(target);
  for (const raw of operations as JsonPatchOperation[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError(`invalid JSON patch operation ${JSON.stringify(raw)}`, true);
    }
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'replace': {
        if (raw.path === '') {
          doc = clone(raw.value);
          break;
        }
        const { parent, key } = locateParent(doc, raw.path, 'replace');
        if (Array.isArray(parent)) parent[arrayIndex(parent, key, raw.path, false)] = clone(raw.value);
        else if (key in parent) parent[key] = clone(raw.value);
        else throw new PatchError(`replace operation does not apply: doc is missing key: ${raw.path}: missing value`);
        break;
      }
      case 'move': {
        const value = getAt(doc, raw.from ?? '', 'move');
        removeAt(doc, raw.from ?? '', 'move');
        doc = addAt(doc, raw.path, value);
        break;
      }
      case 'copy':
        doc = addAt(doc, raw.path, getAt(doc, raw.from ?? '', 'copy'));
        break;
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(doc, raw.path, 'test');
        } catch {
          throw new PatchError(`testing value ${raw.path} failed: test failed`);
        }
        if (!deepEqual(actual, raw.value)) throw new PatchError(`testing value ${raw.path} failed: test failed`);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${raw.op}`, true);
    }
  }
  return doc;
}

// ---------------------------------------------------------------- strategic merge patch (approximated)

/**
 * Merge keys of the list fields Fledge and kubectl touch, from the Kubernetes OpenAPI
 * `x-kubernetes-patch-merge-key` extensions. Lists not named here are replaced, as for
 * fields without a patch strategy. `ports` is keyed by containerPort in containers and by
 * port in Services: the items tell which.
 */
const MERGE_KEYS: Record<string, string | ((item: Record<string, any>) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  conditions: 'type',
  ports: (item) => ('containerPort' in item ? 'containerPort' : 'port'),
};

function mergeKeyOf(field: string, items: unknown[]): string | undefined {
  const rule = MERGE_KEYS[field];
  if (!rule) return undefined;
  if (typeof rule === 'string') return rule;
  const sample = items.find(isObject);
  return sample ? rule(sample) : undefined;
}

function mergeList(field: string, current: unknown, patch: unknown[]): unknown[] {
  const key = mergeKeyOf(field, [...patch, ...(Array.isArray(current) ? current : [])]);
  if (!key || !Array.isArray(current)) {
    return patch.filter((item) => !(isObject(item) && item.$patch === 'delete')).map((item) => strategicMerge(undefined, item));
  }
  const result = clone(current) as any[];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index], item);
    } else {
      result.push(strategicMerge(undefined, item));
    }
  }
  return result;
}

/**
 * Strategic merge patch, approximated: a merge patch whose lists of containers, env, ports,
 * volumes… merge item by item on their merge key, with `$patch: delete` on list items and
 * `$patch: replace` / `$patch: delete` on maps. `$setElementOrder` and `$retainKeys` are accepted and ignored.
 */
export function strategicMerge(target: unknown, patch: unknown): any {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return strategicMerge(undefined, rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const result: Record<string, any> = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(key, result[key], value);
    else {
      const merged = strategicMerge(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}
