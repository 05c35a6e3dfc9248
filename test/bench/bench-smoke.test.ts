// Smoke test of the benchmarks: the handler bundles build and load in a fresh node, and the step benchmark counts
// what 20 steps imply. Nothing here asserts on time: the figures are for `npm run bench` to print.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHandlers } from '../../bench/bundle-size';
import type { BundleReport } from '../../bench/bundle-size';
import { importInChild } from '../../bench/cold-import';
import { DEFAULT_STEP_WEIGHTS, stepOverhead } from '../../bench/step-overhead';
import { loadDefinition } from '../../local/runner';

/** The Lambdas rollout.asl.json calls, by file name: `${ShiftWeightFunctionArn}` → shift-weight. */
const HANDLERS = [...new Set(Object.values(loadDefinition().taskFunctions))]
  .map((placeholder) => placeholder.replace(/FunctionArn$/, '').replace(/[A-Z]/g, (c, at: number) => `${at ? '-' : ''}${c.toLowerCase()}`))
  .sort();

describe('the benchmarks', () => {
  let report: BundleReport;

  beforeAll(async () => {
    report = await bundleHandlers();
  });

  afterAll(async () => {
    if (report) await rm(report.outDir, { recursive: true, force: true });
  });

  it('bundles every handler the state machine calls, gzip smaller than the bundle', () => {
    const names = report.bundles.map((b) => b.name);

    expect(HANDLERS).toContain('wait-for-canary-ready');
    expect(names).toEqual(expect.arrayContaining(HANDLERS));
    for (const bundle of report.bundles) {
      expect(bundle.bytes).toBeGreaterThan(0);
      expect(bundle.gzipBytes).toBeLessThan(bundle.bytes);
      expect(Object.keys(bundle.inputs)).toContain(`lambdas/handlers/${bundle.name}.ts`);
    }
  });

  it('imports each bundle in a fresh node process without throwing or printing, and finds its handler', async () => {
    const runs = await Promise.all(report.bundles.map((b) => importInChild(b.outfile)));

    for (const [i, run] of runs.entries()) {
      expect({ name: report.bundles[i].name, ok: run.ok, error: run.error }).toEqual({ name: report.bundles[i].name, ok: true, error: undefined });
      expect(run.handlerType).toBe('function');
      expect(run.output).toBe('');
    }
  });

  it('imports a bundle with no FLEDGE_* variables set: configuration is read on the first invoke, not at import', async () => {
    const bundle = report.bundles.find((b) => b.name === 'initialize')!;

    const run = await importInChild(bundle.outfile, {});

    expect(run.error).toBeUndefined();
    expect(run.handlerType).toBe('function');
  });

  it('enters the states 20 steps imply: 4 per step, 3 per readiness poll, 6 more', async () => {
    const result = await stepOverhead({ runs: 1, warmupRuns: 0 });

    const [run] = result.runs;
    expect(run.outcome).toBe('promoted');
    expect(run.weights).toEqual(DEFAULT_STEP_WEIGHTS);
    expect(result.steps).toBe(20);
    for (const state of ['ShiftWeight', 'Bake', 'AnalyzeMetrics', 'Decide']) expect(run.entriesByState[state]).toBe(20);
    expect(run.canaryPolls).toBeGreaterThanOrEqual(1);
    expect(run.stablePolls).toBeGreaterThanOrEqual(1);
    expect(run.statesEntered).toBe(4 * 20 + 3 * run.canaryPolls + 3 * run.stablePolls + 6);
    expect(result.expectedStates).toBe(run.statesEntered);
    expect(run.metricQueries).toBe(20);
    expect(run.stepLoopKubeRequests).toBeGreaterThan(0);
    expect(run.kubeRequests).toBeGreaterThan(run.stepLoopKubeRequests);
  });
});
