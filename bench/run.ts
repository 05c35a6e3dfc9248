// `npm run bench`: bundle sizes, cold import times and per-step overhead, printed; nothing here asserts on time.
// `npm run bench -- bundle import` runs only the named sections (bundle, import, steps).
import { cpus } from 'node:os';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleHandlers, formatBundleReport } from './bundle-size';
import type { BundleReport } from './bundle-size';
import { coldImports, formatColdImports } from './cold-import';
import { formatStepOverhead, stepOverhead } from './step-overhead';

const SECTIONS = ['bundle', 'import', 'steps'] as const;
type Section = (typeof SECTIONS)[number];

function section(title: string, body: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}\n\n${body}`);
}

export async function runBenchmarks(only: readonly Section[] = SECTIONS): Promise<void> {
  const cpu = cpus();
  console.log(`Fledge benchmarks, ${new Date().toISOString()}: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`);
  console.log('Figures only: the machine is shared and noisy, so compare runs on one machine, not across machines.');

  let bundles: BundleReport | undefined;
  try {
    if (only.includes('bundle') || only.includes('import')) {
      const started = performance.now();
      bundles = await bundleHandlers();
      if (only.includes('bundle')) {
        section('1. Bundle size', `${formatBundleReport(bundles)}\n\n(esbuild took ${(performance.now() - started).toFixed(0)} ms for all bundles)`);
      }
    }
    if (only.includes('import') && bundles) {
      section('2. Cold import time', formatColdImports(await coldImports(bundles.bundles, { runs: 5 })));
    }
    if (only.includes('steps')) {
      section('3. Per-step overhead (local runner, Kubernetes emulator)', formatStepOverhead(await stepOverhead()));
    }
  } finally {
    if (bundles) await rm(bundles.outDir, { recursive: true, force: true });
  }
}

/** Run only when started as a script (`tsx bench/run.ts`), not when imported. */
function isMain(): boolean {
  return process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
}

if (isMain()) {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length) {
    console.error(`unknown section(s) ${unknown.join(', ')}; expected any of ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
  await runBenchmarks(requested.length ? (requested as Section[]) : SECTIONS);
}
