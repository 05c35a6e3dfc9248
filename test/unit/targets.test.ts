// Which Canary an image push is for, the names a rollout works with, and which container takes the image.
import { describe, expect, it } from 'vitest';
import type { ImagePush } from '../../lambdas/core/ecr-event';
import { SpecValidationError, TargetNotFoundError } from '../../lambdas/core/errors';
import { alreadyRuns, matchTarget, rolloutTarget, selectContainer } from '../../lambdas/core/targets';
import { seedCanary, thrown } from './seed';

function push(repository: string, tag: string | undefined): ImagePush {
  const digest = `sha256:${'a'.repeat(64)}`;
  return {
    account: '123456789012',
    region: 'us-west-2',
    repository,
    tag,
    digest,
    image: `123456789012.dkr.ecr.us-west-2.amazonaws.com/${repository}@${digest}`,
    time: '2026-11-16T01:54:34Z',
  };
}

const web = seedCanary((document) => {
  document.spec.fledge = { tagPattern: '\\d+\\.\\d+\\.\\d+' };
});
const api = seedCanary((document) => {
  document.metadata.name = 'api';
  document.spec.targetRef.name = 'api';
  document.spec.fledge = { imageRepository: 'team/api' };
});

describe('matchTarget', () => {
  it('matches the Canary whose repository and tag pattern claim the push', () => {
    // Act
    const match = matchTarget([web, api], push('web', '1.4.2'));

    // Assess
    expect(match).toEqual({ kind: 'matched', canary: web });
  });

  it('ignores a push for a suspended Canary, saying so (Flagger\'s spec.suspend)', () => {
    // Prepare
    const suspended = seedCanary((document) => {
      document.spec.suspend = true;
    });

    // Act
    const match = matchTarget([suspended, api], push('web', '1.4.2'));

    // Assess
    expect(match).toEqual({ kind: 'ignored', reason: 'Canary prod/web claims web:1.4.2 but is suspended (spec.suspend: true)' });
  });

  it('matches a nested repository name exactly', () => {
    expect(matchTarget([web, api], push('team/api', 'latest'))).toEqual({ kind: 'matched', canary: api });
  });

  it('needs the tag pattern to match the whole tag, not part of it', () => {
    // Prepare
    const exact = seedCanary((document) => {
      document.spec.fledge = { tagPattern: '1\\.4|stable' };
    });

    // Act
    const partial = matchTarget([exact], push('web', '1.4.2'));
    const suffixed = matchTarget([exact], push('web', 'stable-rc1'));
    const whole = matchTarget([exact], push('web', 'stable'));

    // Assess
    expect(partial.kind).toBe('ignored');
    expect(suffixed.kind).toBe('ignored');
    expect(whole).toEqual({ kind: 'matched', canary: exact });
  });

  it('ignores a push no Canary claims, listing what each Canary wants', () => {
    // Act
    const match = matchTarget([web, api], push('web', 'latest'));

    // Assess
    expect(match).toEqual({
      kind: 'ignored',
      reason: 'no Canary claims web:latest (prod/web wants web tags /\\d+\\.\\d+\\.\\d+/; prod/api wants team/api tags /.*/)',
    });
  });

  it('ignores a push by digest only when the tag pattern needs a tag', () => {
    expect(matchTarget([web], push('web', undefined))).toEqual({
      kind: 'ignored',
      reason: 'no Canary claims web:<no tag> (prod/web wants web tags /\\d+\\.\\d+\\.\\d+/)',
    });
  });

  it('says when there are no Canaries at all', () => {
    expect(matchTarget([], push('web', '1.4.2'))).toEqual({
      kind: 'ignored',
      reason: 'no Canary claims web:1.4.2 (no Canaries are configured)',
    });
  });

  it('refuses a push that two Canaries claim, naming both', () => {
    // Prepare
    const webEu = seedCanary((document) => {
      document.metadata.namespace = 'prod-eu';
    });

    // Act
    const error = thrown(() => matchTarget([web, webEu], push('web', '1.4.2')));

    // Assess
    expect(error).toBeInstanceOf(SpecValidationError);
    expect(error.message).toBe(
      'image web:1.4.2 is claimed by 2 Canaries (prod/web, prod-eu/web): ' +
        'set spec.fledge.imageRepository or spec.fledge.tagPattern so that one Canary claims it',
    );
  });
});

describe('rolloutTarget', () => {
  it('derives the canary Deployment and Service names from the Canary', () => {
    // Prepare
    const canary = seedCanary((document) => {
      document.spec.service.name = 'web-svc';
      document.spec.fledge = { route: 'web-route' };
    });

    // Act
    const target = rolloutTarget(canary);

    // Assess
    expect(target).toEqual({
      namespace: 'prod',
      deployment: 'web',
      canaryDeployment: 'web-canary',
      service: 'web-svc',
      canaryService: 'web-svc-canary',
      port: 80,
      route: 'web-route',
    });
  });
});

describe('selectContainer', () => {
  const where = 'Deployment prod/web';
  const images = {
    app: '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1',
    proxy: 'envoyproxy/envoy:v1.31.0',
  };

  it('takes spec.fledge.container when it is in the pod template', () => {
    expect(selectContainer(images, 'web', 'proxy', where)).toBe('proxy');
  });

  it('refuses an explicit container that is not there, listing the containers', () => {
    // Act
    const error = thrown(() => selectContainer(images, 'web', 'web', where));

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect(error.message).toBe(
      'Deployment prod/web: container "web" (spec.fledge.container) not found; ' +
        'containers: app=123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1, proxy=envoyproxy/envoy:v1.31.0',
    );
  });

  it('refuses an explicit container named like an Object property', () => {
    expect(thrown(() => selectContainer(images, 'web', 'constructor', where))).toBeInstanceOf(TargetNotFoundError);
  });

  it('finds the one container whose image comes from the pushed repository', () => {
    expect(selectContainer(images, 'web', undefined, where)).toBe('app');
  });

  it('finds a container pinned by digest', () => {
    // Prepare
    const pinned = { sidecar: 'busybox:1.36', app: `123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web@sha256:${'b'.repeat(64)}` };

    // Act
    const container = selectContainer(pinned, 'team/web', undefined, where);

    // Assess
    expect(container).toBe('app');
  });

  it('refuses when no container runs an image from the repository, listing the containers', () => {
    // Act
    const error = thrown(() => selectContainer(images, 'api', undefined, where));

    // Assess
    expect(error).toBeInstanceOf(TargetNotFoundError);
    expect(error.message).toBe(
      'Deployment prod/web: no containers run an image from repository "api" ' +
        '(containers: app=123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1, proxy=envoyproxy/envoy:v1.31.0); set spec.fledge.container',
    );
  });

  it('refuses when several containers run an image from the repository', () => {
    // Prepare
    const twice = { app: 'registry.local:5000/web:1.4.1', worker: 'registry.local:5000/web:1.4.1' };

    // Act
    const error = thrown(() => selectContainer(twice, 'web', undefined, where));

    // Assess
    expect(error.message).toBe(
      'Deployment prod/web: 2 containers run an image from repository "web" ' +
        '(containers: app=registry.local:5000/web:1.4.1, worker=registry.local:5000/web:1.4.1); set spec.fledge.container',
    );
  });
});

describe('alreadyRuns', () => {
  const push = { image: '1.dkr.ecr.us-west-2.amazonaws.com/web@sha256:abc', digest: 'sha256:abc' };

  it('is true for the same reference or the same digest under another name, false otherwise', () => {

    expect(alreadyRuns('1.dkr.ecr.us-west-2.amazonaws.com/web@sha256:abc', push)).toBe(true);
    expect(alreadyRuns('1.dkr.ecr.us-west-2.amazonaws.com/web:1.4.2@sha256:abc', push)).toBe(true);
    expect(alreadyRuns('1.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1', push)).toBe(false);
  });
});
