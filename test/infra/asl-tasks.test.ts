// Which functions the construct creates: read from the definition's ${<Task>FunctionArn} placeholders.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kebabCase, lambdaTasks, placeholdersIn } from '../../infra/asl-tasks';
import { DEFINITION_FILE, HANDLERS_DIR, METRIC_TASKS, NOTIFYING_TASKS } from '../../infra/rollout-orchestrator';

const dir = mkdtempSync(join(tmpdir(), 'fledge-asl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A definition file with one Task state per resource. */
function definition(resources: Record<string, { resource: string; timeout?: number }>): string {
  const file = join(dir, `${Object.keys(resources).join('-') || 'empty'}.asl.json`);
  const names = Object.keys(resources);
  const states = Object.fromEntries(
    names.map((name, i) => [
      name,
      { Type: 'Task', Resource: resources[name].resource, ...(resources[name].timeout ? { TimeoutSeconds: resources[name].timeout } : {}), ...(i + 1 < names.length ? { Next: names[i + 1] } : { End: true }) },
    ]),
  );
  writeFileSync(file, JSON.stringify({ StartAt: names[0], States: states }));
  return file;
}

describe('lambdaTasks', () => {
  it('names the handler file in kebab case', () => {
    expect(kebabCase('WaitForCanaryReady')).toBe('wait-for-canary-ready');
    expect(kebabCase('Promote')).toBe('promote');
  });

  it('finds every Task of rollout.asl.json, each with its handler file and its state timeout', () => {
    const tasks = lambdaTasks(DEFINITION_FILE, HANDLERS_DIR);

    expect(tasks.map((task) => task.placeholder)).toEqual(placeholdersIn(readFileSync(DEFINITION_FILE, 'utf8')));
    expect(tasks.find((task) => task.name === 'ShiftWeight')).toEqual({
      name: 'ShiftWeight',
      placeholder: 'ShiftWeightFunctionArn',
      entry: join(HANDLERS_DIR, 'shift-weight.ts'),
      taskTimeoutSeconds: 120,
    });
  });

  it('takes the smallest timeout of the states that call the same function', () => {
    const file = definition({ A: { resource: '${PromoteFunctionArn}', timeout: 90 }, B: { resource: '${PromoteFunctionArn}', timeout: 30 } });

    expect(lambdaTasks(file, HANDLERS_DIR)).toEqual([{ name: 'Promote', placeholder: 'PromoteFunctionArn', entry: join(HANDLERS_DIR, 'promote.ts'), taskTimeoutSeconds: 30 }]);
  });

  it('refuses a placeholder that is not a function ARN, and a Task with no handler file', () => {
    const topic = definition({ Notify: { resource: '${NotifyTopicArn}' } });
    const missing = definition({ Deploy: { resource: '${DeployEverythingFunctionArn}' } });

    expect(() => lambdaTasks(topic, HANDLERS_DIR)).toThrow('placeholder ${NotifyTopicArn} is not a Lambda function ARN');
    expect(() => lambdaTasks(missing, HANDLERS_DIR)).toThrow(`\${DeployEverythingFunctionArn} names the handler ${join(HANDLERS_DIR, 'deploy-everything.ts')}, which does not exist`);
  });

  it('refuses a handler file that does not export handler', () => {
    const file = definition({ Config: { resource: '${ConfigFunctionArn}' } });

    expect(() => lambdaTasks(file, HANDLERS_DIR)).toThrow('which does not export `handler`');
  });
});

describe("the construct's per-function permissions follow the handlers", () => {
  /** Tasks of the definition whose handler file mentions `pattern`; no shared helper in lambdas/handlers may. */
  const tasksUsing = (pattern: RegExp): string[] => {
    const tasks = lambdaTasks(DEFINITION_FILE, HANDLERS_DIR);
    const helpers = readdirSync(HANDLERS_DIR)
      .map((file) => join(HANDLERS_DIR, file))
      .filter((file) => !tasks.some((task) => task.entry === file) && !/(composition|deps)\.ts$/.test(file));
    expect(helpers.filter((file) => pattern.test(readFileSync(file, 'utf8')))).toEqual([]);
    return tasks.filter((task) => pattern.test(readFileSync(task.entry, 'utf8'))).map((task) => task.name).sort();
  };

  it('grants sns:Publish to exactly the tasks whose handler uses the notifier', () => {
    expect(tasksUsing(/deps\.notifier\b/)).toEqual([...NOTIFYING_TASKS].sort());
  });

  it('grants metric reads to exactly the tasks whose handler calls a metric provider', () => {
    expect(tasksUsing(/deps\.metricProvider\(/)).toEqual([...METRIC_TASKS].sort());
  });
});
