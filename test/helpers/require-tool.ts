// Decides what a test file does when an external tool it runs (prometheus…) is missing: fail in CI, skip locally.

/**
 * Use as `describe.skipIf(requireTool('prometheus', prometheusBinary() !== undefined).skip)`.
 * In CI a missing tool is an error, so a broken install can never turn into a green run
 * that tested nothing; on a developer machine the file is skipped with one line saying why.
 */
export function requireTool(name: string, found: boolean): { skip: boolean } {
  if (found) return { skip: false };
  const ci = process.env.CI ?? '';
  // CI=false and CI=0 are how people switch it off by hand.
  if (ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false') {
    throw new Error(
      `${name} is required in CI but is not installed: .ci/run installs it with ` +
        `\`apt-get update && apt-get install -y --no-install-recommends ${name}\``,
    );
  }
  console.warn(`skipping: ${name} is not installed (apt-get install ${name})`);
  return { skip: true };
}
