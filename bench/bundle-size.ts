// Bundles each Lambda handler as CDK's NodejsFunction will for the Node 22 runtime and reports what each bundle weighs.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { BuildOptions, Metafile } from 'esbuild';

export const HANDLERS_DIR = fileURLToPath(new URL('../lambdas/handlers/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * esbuild's ESM output replaces `require()` of a module it left external (node builtins) with a
 * shim that throws this at runtime; its presence means a CommonJS dependency needs a real require.
 */
const DYNAMIC_REQUIRE_SHIM = 'Dynamic require of';

/** The banner CDK users add for ESM bundles with CommonJS dependencies; named so it cannot clash with bundled code. */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __fledgeCreateRequire } from 'node:module'; const require = __fledgeCreateRequire(import.meta.url);";

export interface HandlerBundle {
  /** File name without `.ts`, e.g. `analyze-metrics`. */
  readonly name: string;
  readonly entry: string;
  /** The `.mjs` bundle, importable with `import()`. */
  readonly outfile: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** The createRequire banner was needed: some bundled CommonJS calls `require()` on a module left external. */
  readonly createRequireBanner: boolean;
  /** Bundled inputs esbuild saw as CommonJS. */
  readonly commonJsInputs: number;
  /** Each bundled input and the bytes it contributes to the minified output (esbuild metafile). */
  readonly inputs: Metafile['outputs'][string]['inputs'];
}

export interface InputWeight {
  /** Repository-relative input path, or the npm package name when grouped by package. */
  readonly path: string;
  /** Bytes this input contributes to the minified bundle. */
  readonly bytesInOutput: number;
}

export interface BundleReport {
  readonly outDir: string;
  readonly bundles: readonly HandlerBundle[];
}

export interface BundleOptions {
  /** Where the bundles go. @default - a new temporary directory */
  readonly outDir?: string;
  /** Handler names to bundle. @default - every file in lambdas/handlers that exports `handler` */
  readonly only?: readonly string[];
}

/** Files in lambdas/handlers that export a `handler`: the Lambda entry points. */
export async function handlerEntries(): Promise<{ name: string; entry: string }[]> {
  const files = (await readdir(HANDLERS_DIR)).filter((file) => file.endsWith('.ts')).sort();
  const entries: { name: string; entry: string }[] = [];
  for (const file of files) {
    const source = await readFile(join(HANDLERS_DIR, file), 'utf8');
    if (/^export\s+(const|let|async\s+function|function)\s+handler\b/m.test(source)) {
      entries.push({ name: basename(file, '.ts'), entry: join(HANDLERS_DIR, file) });
    }
  }
  return entries;
}

/** NodejsFunction's esbuild settings for runtime nodejs22.x, OutputFormat.ESM, minify on, sourceMap off. */
export function lambdaBuildOptions(entryPoints: Record<string, string>, outdir: string): BuildOptions {
  return {
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    // NodejsFunction's default for ESM output: prefer a package's ES module build.
    mainFields: ['module', 'main'],
    // Fledge bundles the AWS SDK too (the infra sets NodejsFunction's externalModules to []): the
    // runtime's copy lacks some @smithy packages Fledge imports, and a pinned SDK is the one tested.
    external: [],
    minify: true,
    sourcemap: false,
    metafile: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  };
}

/**
 * Bundle every handler. One esbuild build with one entry point per handler: without
 * `splitting`, each output is a whole, independent bundle, exactly what a build per Lambda
 * asset gives, while the shared dependency graph is parsed once.
 */
export async function bundleHandlers(options: BundleOptions = {}): Promise<BundleReport> {
  const outDir = options.outDir ?? (await mkdtemp(join(tmpdir(), 'fledge-bench-bundles-')));
  const entries = (await handlerEntries()).filter((e) => !options.only || options.only.includes(e.name));
  const result = await build(lambdaBuildOptions(Object.fromEntries(entries.map((e) => [e.name, e.entry])), outDir));
  const metafile = result.metafile!;
  const bundles: HandlerBundle[] = [];
  for (const { name, entry } of entries) {
    const outfile = join(outDir, `${name}.mjs`);
    const file = result.outputFiles!.find((f) => f.path === outfile);
    if (!file) throw new Error(`esbuild wrote no ${outfile}`);
    const createRequireBanner = file.text.includes(DYNAMIC_REQUIRE_SHIM);
    // What esbuild's `banner` option does: the text, a newline, then the bundle.
    const text = Buffer.from(createRequireBanner ? `${CREATE_REQUIRE_BANNER}\n${file.text}` : file.text);
    await writeFile(outfile, text);
    const output = Object.entries(metafile.outputs).find(([path]) => join(REPO_ROOT, path) === outfile)?.[1];
    if (!output) throw new Error(`esbuild's metafile has no output ${outfile}`);
    const commonJsInputs = Object.keys(output.inputs).filter((path) => metafile.inputs[path]?.format === 'cjs').length;
    bundles.push({ name, entry, outfile, bytes: text.length, gzipBytes: gzipSync(text).length, createRequireBanner, commonJsInputs, inputs: output.inputs });
  }
  return { outDir, bundles };
}

/** The inputs that weigh most in a bundle's output, by file and grouped by npm package. */
export function largestInputs(bundle: HandlerBundle, limit = 10): { files: InputWeight[]; packages: InputWeight[] } {
  const files = Object.entries(bundle.inputs).map(([path, input]) => ({ path, bytesInOutput: input.bytesInOutput }));
  const byPackage = new Map<string, number>();
  for (const { path, bytesInOutput } of files) {
    byPackage.set(packageOf(path), (byPackage.get(packageOf(path)) ?? 0) + bytesInOutput);
  }
  const top = (list: InputWeight[]) => list.sort((a, b) => b.bytesInOutput - a.bytesInOutput).slice(0, limit);
  return { files: top(files), packages: top([...byPackage].map(([path, bytesInOutput]) => ({ path, bytesInOutput }))) };
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg` (the innermost node_modules wins); our own sources → `(fledge) <top dir>`. */
export function packageOf(path: string): string {
  const parts = path.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return `(fledge) ${parts.slice(0, 2).join('/')}`;
  const first = parts[at + 1] ?? '';
  return first.startsWith('@') ? `${first}/${parts[at + 2]}` : first;
}

export const kib = (bytes: number): string => (bytes / 1024).toFixed(1);

/** A plain-text table; columns listed in rightAligned (numbers) are padded on the left. */
export function formatTable(header: string[], rows: string[][], rightAligned: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatBundleReport(report: BundleReport): string {
  const rows = report.bundles.map((b) => [
    b.name,
    String(b.bytes),
    kib(b.bytes),
    String(b.gzipBytes),
    kib(b.gzipBytes),
    b.createRequireBanner ? 'yes' : 'no',
    String(b.commonJsInputs),
  ]);
  const lines = [
    `esbuild: platform node, target node22, format esm, bundle (AWS SDK included), minify, no sourcemap; into ${report.outDir}`,
    '',
    formatTable(['handler', 'bytes', 'KiB', 'gzip bytes', 'gzip KiB', 'createRequire banner', 'CommonJS inputs'], rows, [1, 2, 3, 4, 6]),
  ];
  const biggest = [...report.bundles].sort((a, b) => b.bytes - a.bytes)[0];
  if (biggest) {
    const { files, packages } = largestInputs(biggest);
    const inputCount = Object.keys(biggest.inputs).length;
    lines.push('', `Largest inputs of ${biggest.name}.mjs (${inputCount} inputs), bytes in the minified output:`, '');
    lines.push(formatTable(['package', 'bytes', 'share'], packages.map((p) => [p.path, String(p.bytesInOutput), share(p.bytesInOutput, biggest.bytes)]), [1, 2]));
    lines.push('');
    lines.push(formatTable(['file', 'bytes', 'share'], files.map((f) => [f.path, String(f.bytesInOutput), share(f.bytesInOutput, biggest.bytes)]), [1, 2]));
  }
  return lines.join('\n');
}

const share = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)}%`;
