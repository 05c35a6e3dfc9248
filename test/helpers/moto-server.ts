// Runs moto_server (local AWS APIs: EKS, STS, SNS…) for a test file: on a free port, ready when it answers, stopped with the file.
import { findBinary, startServerProcess } from '../../local/server-process';

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
  return findBinary('moto_server');
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

/** Starts moto_server on a free port; tries a fresh port if another process took that one first. */
export async function startMotoServer(): Promise<MotoServer> {
  const binary = motoServerBinary();
  if (binary === undefined) throw new Error(`moto_server is not installed (${INSTALL_HINT})`);
  const server = await startServerProcess({
    name: 'moto_server',
    binary,
    args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
    readyPath: '/moto-api/',
  });
  const { url } = server;
  return {
    url,
    async reset() {
      const response = await fetch(`${url}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`moto_server reset answered ${response.status}`);
    },
    stop: () => server.stop(),
  };
}
