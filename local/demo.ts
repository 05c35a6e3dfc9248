// `npm run demo -- --scenario <healthy|errors|slow|silent> [--prometheus] [--time-factor 0.1]`: one canary rollout on this machine.
import './polyfills';
import { parseArgs } from 'node:util';
import { SCENARIOS, runDemo } from './demo-run';
import type { Scenario } from './demo-run';
import { describeEvent } from './execution-view';
import { prometheusBinary } from './prometheus-server';

const USAGE = 'usage: npm run demo -- --scenario <healthy|errors|slow|silent> [--prometheus] [--time-factor 0.1]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      prometheus: { type: 'boolean', default: false },
      'time-factor': { type: 'string', default: '0.1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const scenario = values.scenario as Scenario | undefined;
  if (!scenario || !SCENARIOS.includes(scenario)) {
    fail(`--scenario: expected one of ${SCENARIOS.join(', ')}, got ${JSON.stringify(values.scenario ?? null)}`);
  }
  const timeFactor = Number(values['time-factor']);
  if (!(timeFactor > 0 && timeFactor <= 1)) {
    fail(`--time-factor: expected a number in (0, 1], got ${JSON.stringify(values['time-factor'])}`);
  }
  if (values.prometheus && !prometheusBinary()) {
    fail('--prometheus: prometheus is not on PATH (apt-get install -y --no-install-recommends prometheus)');
  }

  const color = process.stderr.isTTY === true;
  const startedAt = Date.now();
  process.stderr.write(
    `Fledge demo: scenario ${scenario}, ${values.prometheus ? 'Prometheus' : 'web'} metrics, demo time ×${1 / timeFactor}\n`,
  );
  const result = await runDemo({
    scenario,
    timeFactor,
    prometheus: values.prometheus,
    onEvent: (event) => {
      for (const line of describeEvent(event, { color, startedAt }) ?? []) process.stderr.write(`${line}\n`);
    },
  });
  process.stdout.write(
    `${JSON.stringify({
      scenario: result.scenario,
      outcome: result.outcome,
      reason: result.reason,
      failedChecks: result.failedChecks,
      weights: result.weights,
      stableImage: result.stableImage,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
