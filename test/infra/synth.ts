// Synthesizes a Fledge stack for the infra tests, with cdk-nag's AwsSolutions checks registered as the app does.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

export interface Synthesized {
  readonly stack: Stack;
  readonly template: Template;
  /** The cloud assembly folder: the template file, the function bundles, the validation report. */
  readonly outdir: string;
  /** The synthesized template as written to the cloud assembly. */
  readonly templateFile: string;
  readonly dispose: () => void;
}

/**
 * Builds the stack in a fresh App and synthesizes it once. `bundle: false` skips esbuild (CDK's
 * `aws:cdk:bundling-stacks` context): seconds instead of tens, for tests that only read the
 * template. A cdk-nag error not acknowledged in the construct makes `synth()` throw.
 */
export function synthesize(build: (app: App) => Stack, { bundle = false }: { bundle?: boolean } = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'fledge-cdk-test-'));
  const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = build(app);
  app.synth();
  const template = Template.fromStack(stack);
  return {
    stack,
    template,
    outdir,
    templateFile: join(outdir, stack.templateFile),
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Violations in CDK's policy validation report (cdk-nag's findings that were not acknowledged). */
export function reportedViolations(outdir: string): unknown[] {
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports?: { violations?: unknown[] }[] };
  return (report.pluginReports ?? []).flatMap((plugin) => plugin.violations ?? []);
}
