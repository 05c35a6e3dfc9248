// Cold import time of each handler bundle: a fresh node process per run, timing the dynamic import from inside.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { formatTable } from './bundle-size';
import type { HandlerBundle } from './bundle-size';

/** Set for the child so an import that reads them eagerly would not fail; a bundle must not need them to load. */
export const HARMLESS_ENV = {
  FLEDGE_MANIFESTS_DIR: '/nonexistent/fledge-manifests',
  FLEDGE_KUBE_SERVER: 'http://127.0.0.1:9',
} as const;

const MARKER = '__FLEDGE_BENCH__';

/**
 * Runs in the child. Resource types are counted before and after the import: a handle left
 * behind (timer, socket, file) is work done at import time. Exits explicitly, so a leaked
 * handle cannot hang the benchmark, after one macrotask in which import-time work can surface.
 */
const CHILD_SCRIPT = `
const touched = [];
for (const name of ['stdout', 'stderr']) {
  const own = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, { configurable: true, enumerable: own.enumerable, get() { if (!touched.includes(name)) touched.push(name); return own.get.call(process); } });
}
const count = (list) => list.reduce((acc, type) => ({ ...acc, [type]: (acc[type] ?? 0) + 1 }), {});
const before = count(process.getActiveResourcesInfo());
const started = performance.now();
let result;
try {
  const mod = await import(process.argv[1]);
  const importMs = performance.now() - started;
  await new Promise((resolve) => setImmediate(resolve));
  const after = count(process.getActiveResourcesInfo());
  const leftover = Object.fromEntries(Object.entries(after).map(([t, n]) => [t, n - (before[t] ?? 0)]).filter(([, n]) => n > 0));
  result = { ok: true, importMs, handlerType: typeof mod.handler, leftover, touched: [...touched], sinceProcessStartMs: performance.now() };
} catch (error) {
  result = { ok: false, error: String(error && error.stack || error) };
}
process.stdout.write('\\n${MARKER}' + JSON.stringify(result) + '\\n', () => process.exit(0));
`;

export interface ImportRun {
  readonly ok: boolean;
  /** performance.now() around `await import(bundle)` in the child. */
  readonly importMs?: number;
  /** Child's performance.now() after the import: node start-up plus the import. */
  readonly sinceProcessStartMs?: number;
  /** Spawn to exit, seen from the parent. */
  readonly processMs: number;
  readonly handlerType?: string;
  /** Active resources (by type) the import left behind. */
  readonly leftover?: Record<string, number>;
  /** process.stdout / process.stderr, when the import opened them (each leaves a PipeWrap or TTYWrap handle). */
  readonly touched?: readonly string[];
  readonly error?: string;
  /** Anything the import printed, which it should not. */
  readonly output: string;
}

export interface ColdImportResult {
  readonly name: string;
  readonly runs: readonly ImportRun[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly medianProcessMs: number;
}

export interface ColdImportOptions {
  /** Fresh processes per bundle. @default 5 */
  readonly runs?: number;
  /** Environment for the child on top of PATH. @default HARMLESS_ENV */
  readonly env?: Record<string, string>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Import one bundle in a fresh `node` process with only the given environment (and PATH). */
export function importInChild(outfile: string, env: Record<string, string> = HARMLESS_ENV, timeoutMs = 30_000): Promise<ImportRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, pathToFileURL(outfile).href], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const processMs = performance.now() - started;
      const at = stdout.lastIndexOf(MARKER);
      if (at < 0) {
        resolve({ ok: false, processMs, error: `child exited with ${signal ?? code} and no result`, output: (stdout + stderr).trim() });
        return;
      }
      const result = JSON.parse(stdout.slice(at + MARKER.length)) as Omit<ImportRun, 'processMs' | 'output'>;
      resolve({ ...result, processMs, output: (stdout.slice(0, at) + stderr).trim() });
    });
  });
}

/** N fresh imports of each bundle, one process at a time so runs do not compete for the two cores. */
export async function coldImports(bundles: readonly Pick<HandlerBundle, 'name' | 'outfile'>[], options: ColdImportOptions = {}): Promise<ColdImportResult[]> {
  const n = options.runs ?? 5;
  const results: ColdImportResult[] = [];
  for (const bundle of bundles) {
    const runs: ImportRun[] = [];
    for (let i = 0; i < n; i++) runs.push(await importInChild(bundle.outfile, options.env ?? HARMLESS_ENV));
    const times = runs.filter((r) => r.ok).map((r) => r.importMs!);
    results.push({
      name: bundle.name,
      runs,
      medianMs: times.length ? median(times) : NaN,
      minMs: times.length ? Math.min(...times) : NaN,
      medianProcessMs: median(runs.map((r) => r.processMs)),
    });
  }
  return results;
}

/** Side effects seen in any run (errors, output, opened stdio, handles left behind, no `handler`), each with the bundles showing it. */
export function importFindings(results: readonly ColdImportResult[]): { finding: string; handlers: string[] }[] {
  const found = new Map<string, Set<string>>();
  const add = (finding: string, name: string) => found.set(finding, (found.get(finding) ?? new Set()).add(name));
  for (const { name, runs } of results) {
    for (const run of runs) {
      if (!run.ok) add(`import failed: ${run.error?.split('\n')[0]}`, name);
      if (run.ok && run.handlerType !== 'function') add(`exports no handler function (typeof handler is ${run.handlerType})`, name);
      if (run.output) add(`printed at import: ${run.output.split('\n')[0].slice(0, 160)}`, name);
      for (const stream of run.touched ?? []) add(`opened process.${stream} at import`, name);
      const streamHandles = run.touched?.length ?? 0;
      for (const [type, count] of Object.entries(run.leftover ?? {})) {
        // An opened stdout/stderr is a PipeWrap (or TTYWrap) handle: already reported above.
        const unexplained = type === 'PipeWrap' || type === 'TTYWrap' ? count - streamHandles : count;
        if (unexplained > 0) add(`left ${unexplained} ${type} handle(s) active after import`, name);
      }
    }
  }
  return [...found].map(([finding, handlers]) => ({ finding, handlers: [...handlers] }));
}

export function formatColdImports(results: readonly ColdImportResult[]): string {
  const runs = results[0]?.runs.length ?? 0;
  const rows = results.map((r) => [r.name, r.medianMs.toFixed(1), r.minMs.toFixed(1), r.medianProcessMs.toFixed(0)]);
  const findings = importFindings(results);
  return [
    `${runs} fresh \`node ${process.version}\` processes per bundle; import = performance.now() around await import(bundle) in the child`,
    '',
    formatTable(['handler', 'import median ms', 'import min ms', 'process median ms'], rows, [1, 2, 3]),
    '',
    findings.length
      ? `Import side effects:\n${findings.map(({ finding, handlers }) => `  - ${finding}: ${handlers.length === results.length ? `all ${handlers.length} bundles` : handlers.join(', ')}`).join('\n')}`
      : 'Import side effects: none seen (no output, no stdio opened, no handles left active, every bundle exports handler).',
  ].join('\n');
}
