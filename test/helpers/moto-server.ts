// Runs moto_server (local AWS APIs: EKS, STS, SNS…) for a test file: on a free port, ready when it answers, stopped with the file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_TIMEOUT_MS = 15_000;
const LOG_LINES_KEPT = 40;
const INSTALL_HINT = 'pip install "moto[server]"';

/** Credentials moto accepts (it checks none); fixed so nothing reads ~/.aws or the environment. */
export const MOTO_CREDENTIALS = { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: 'moto-test-secret' } as const;
/** The account moto puts every resource in. */
export const MOTO_ACCOUNT = '123456789012';

export interface MotoServer {
  /** `http://127.0.0.1:<port>`: an `endpoint` for any AWS SDK v3 client. */
  readonly url: string;
  /** Forget every resource (moto's reset API), for a clean state between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The moto_server executable on PATH, or undefined. */
export function motoServerBinary(): string | undefined {
  for (const directory of (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '')) {
    const candidate = join(directory, 'moto_server');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * requireTool's rule for moto_server, with pip's install hint: in CI a missing moto_server fails
 * the run (a broken install must not turn into a green run that tested nothing); on a developer
 * machine the file is skipped with one line saying why.
 * Use as `describe.skipIf(requireMotoServer().skip)`.
 */
export function requireMotoServer(): { skip: boolean } {
  if (motoServerBinary() !== undefined) return { skip: false };
  const ci = process.env.CI ?? '';
  if (ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false') {
    throw new Error(`moto_server is required in CI but is not installed: install it with \`${INSTALL_HINT}\``);
  }
  console.warn(`skipping: moto_server is not installed (${INSTALL_HINT})`);
  return { skip: true };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(2_000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitForReady(child: ChildProcess, url: string, logs: string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}) before it answered:\n${logs.join('\n')}`);
    }
    try {
      const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(`moto_server at ${url} did not answer within ${READY_TIMEOUT_MS} ms:\n${logs.join('\n')}`);
}

/** Starts moto_server on a free port; tries a fresh port if another process took that one first. */
export async function startMotoServer(): Promise<MotoServer> {
  const binary = motoServerBinary();
  if (binary === undefined) throw new Error(`moto_server is not installed (${INSTALL_HINT})`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const logs: string[] = [];
    const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      logs.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      logs.splice(0, Math.max(0, logs.length - LOG_LINES_KEPT));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForReady(child, url, logs);
    } catch (error) {
      lastError = error;
      await stop(child);
      if (!logs.some((line) => /address already in use/i.test(line))) break;
      continue;
    }
    // A test run that dies half-way must not leave moto_server running.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return {
      url,
      async reset() {
        const response = await fetch(`${url}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`moto_server reset answered ${response.status}`);
      },
      async stop() {
        process.off('exit', killOnExit);
        await stop(child);
      },
    };
  }
  throw lastError;
}
