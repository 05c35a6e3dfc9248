// lambdas/core stays pure: no adapters, handlers, AWS SDK, Kubernetes client or Node modules, no env, clock or logging.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LAMBDAS = resolve(dirname(fileURLToPath(import.meta.url)), '../../lambdas');
const CORE = join(LAMBDAS, 'core');
const NODE_BUILTINS = new Set(builtinModules);

/** Why an import specifier is off limits for the core, or undefined when it is fine. */
function forbiddenImport(specifier: string, file: string): string | undefined {
  if (specifier.startsWith('.')) {
    const layer = relative(LAMBDAS, resolve(dirname(file), specifier)).split(/[\\/]/)[0];
    return layer === 'adapters' || layer === 'handlers' ? `imports ${specifier} from lambdas/${layer}` : undefined;
  }
  if (specifier.startsWith('@aws-sdk/')) return `imports the AWS SDK (${specifier})`;
  if (specifier.startsWith('@kubernetes/')) return `imports the Kubernetes client (${specifier})`;
  if (specifier.startsWith('node:') || NODE_BUILTINS.has(specifier.split('/')[0])) return `imports the Node module ${specifier}`;
  return undefined;
}

/** Every impurity in one TypeScript source, as `file:line: what`. */
function violations(source: string, file: string): string[] {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node, what: string) => {
    const line = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
    found.push(`${relative(LAMBDAS, file)}:${line}: ${what}`);
  };
  const checkSpecifier = (node: ts.Node, specifier: ts.Node | undefined) => {
    if (specifier && ts.isStringLiteralLike(specifier)) {
      const why = forbiddenImport(specifier.text, file);
      if (why) report(node, why);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      checkSpecifier(node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      checkSpecifier(node, node.moduleReference.expression);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      checkSpecifier(node, node.argument.literal);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      checkSpecifier(node, node.arguments[0]);
    } else if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
      const object = node.expression.getText(sourceFile).replace(/^globalThis\./, '');
      const property = ts.isPropertyAccessExpression(node)
        ? node.name.text
        : ts.isStringLiteralLike(node.argumentExpression)
          ? node.argumentExpression.text
          : '';
      if (object === 'process' && property === 'env') report(node, 'reads process.env');
      if (object === 'Date' && property === 'now') report(node, 'reads the clock (Date.now)');
      if (object === 'performance' && property === 'now') report(node, 'reads the clock (performance.now)');
    } else if (ts.isNewExpression(node) && node.expression.getText(sourceFile).replace(/^globalThis\./, '') === 'Date') {
      if (!node.arguments || node.arguments.length === 0) report(node, 'reads the clock (new Date())');
    } else if (ts.isIdentifier(node) && node.text === 'console') {
      report(node, 'logs (console)');
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return found;
}

const coreFiles = readdirSync(CORE, { recursive: true, encoding: 'utf8' })
  .filter((name) => /\.(ts|js|mts|cts)$/.test(name))
  .map((name) => join(CORE, name));

describe('core purity', () => {
  it('scans a non-empty core', () => {
    expect(coreFiles.map((file) => relative(CORE, file))).toEqual(expect.arrayContaining(['analysis.ts', 'spec.ts', 'weights.ts']));
  });

  it.each(coreFiles.map((file) => [relative(LAMBDAS, file), file]))('%s imports and reads nothing impure', (_name, file) => {
    expect(violations(readFileSync(file, 'utf8'), file)).toEqual([]);
  });
});

describe('the purity scan itself', () => {
  const file = join(CORE, 'example.ts');

  it.each([
    ["import { PrometheusProvider } from '../adapters/metrics/prometheus-provider';", 'imports ../adapters/metrics/prometheus-provider from lambdas/adapters'],
    ["import type { HandlerDeps } from '../handlers/deps';", 'imports ../handlers/deps from lambdas/handlers'],
    ["export { handler } from '../handlers/initialize';", 'imports ../handlers/initialize from lambdas/handlers'],
    ["import { ECRClient } from '@aws-sdk/client-ecr';", 'imports the AWS SDK (@aws-sdk/client-ecr)'],
    ["import * as k8s from '@kubernetes/client-node';", 'imports the Kubernetes client (@kubernetes/client-node)'],
    ["import { readFileSync } from 'node:fs';", 'imports the Node module node:fs'],
    ["import { join } from 'path';", 'imports the Node module path'],
    ["const fs = await import('node:fs/promises');", 'imports the Node module node:fs/promises'],
    ["const k8s = require('@kubernetes/client-node');", 'imports the Kubernetes client (@kubernetes/client-node)'],
    ["type Deps = import('../handlers/deps').HandlerDeps;", 'imports ../handlers/deps from lambdas/handlers'],
    ['const region = process.env.AWS_REGION;', 'reads process.env'],
    ["const region = process['env'].AWS_REGION;", 'reads process.env'],
    ['const now = Date.now();', 'reads the clock (Date.now)'],
    ['const now = new Date();', 'reads the clock (new Date())'],
    ['const now = new Date;', 'reads the clock (new Date())'],
    ['const now = new globalThis.Date();', 'reads the clock (new Date())'],
    ['console.log("weights", 10);', 'logs (console)'],
    ['const log = console;', 'logs (console)'],
  ])('catches %s', (source, what) => {
    expect(violations(`// a core module\n${source}\n`, file)).toEqual([`core/example.ts:2: ${what}`]);
  });

  it.each([
    "import { z } from 'zod';",
    "import type { RolloutTarget } from '../ports/target';",
    "import { SpecValidationError } from './errors';",
    "const since = new Date('2026-11-16T02:00:00Z');",
    'const elapsed = now.getTime() - since.getTime();',
    '// console, process.env and Date.now() in a comment are fine',
    "const text = 'do not call console.log or Date.now() here';",
    'const config = { env: process };',
  ])('lets %s through', (source) => {
    expect(violations(source, file)).toEqual([]);
  });
});
