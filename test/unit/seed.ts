// The design brief's seed manifests and ECR event (copied from the shared fixtures), fresh for every test to change.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseCanary, parseMetricTemplate } from '../../lambdas/core/spec';
import type { CanarySpec, MetricTemplateSpec } from '../../lambdas/core/spec';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

/** A loosely typed document, so that a test can break any field of it. */
export type Document = any;

export function seedCanaryDocument(): Document {
  return parse(fixture('seed-canary.yaml'));
}

export function seedMetricTemplateDocument(): Document {
  return parse(fixture('seed-metric-template.yaml'));
}

export function ecrPushEvent(): Document {
  return JSON.parse(fixture('ecr-push-event.json'));
}

export function seedCanary(change: (document: Document) => void = () => {}): CanarySpec {
  const document = seedCanaryDocument();
  change(document);
  return parseCanary(document);
}

export function seedMetricTemplate(change: (document: Document) => void = () => {}): MetricTemplateSpec {
  const document = seedMetricTemplateDocument();
  change(document);
  return parseMetricTemplate(document);
}

/** Runs what must throw and returns what it threw, so a test can assert its name and message exactly. */
export function thrown(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, but nothing was thrown');
}
