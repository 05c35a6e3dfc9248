// Which Canary an image push is for, which container takes the image, and the names Fledge derives for it.
import type { ImagePush } from './ecr-event';
import { imageRepositoryPath } from './ecr-event';
import { showValue } from './show-value';
import { SpecValidationError, TargetNotFoundError } from './errors';
import type { CanarySpec } from './spec';
import type { RolloutTarget } from '../ports/target';

export type TargetMatch =
  | { readonly kind: 'matched'; readonly canary: CanarySpec }
  | { readonly kind: 'ignored'; readonly reason: string };

function claims(canary: CanarySpec, push: ImagePush): boolean {
  if (canary.fledge.imageRepository !== push.repository) return false;
  const tag = push.tag ?? '';
  return new RegExp(`^(?:${canary.fledge.tagPattern})$`).test(tag);
}

/** The one Canary claiming this push, or why none does. Two claimants are a configuration error. */
export function matchTarget(canaries: readonly CanarySpec[], push: ImagePush): TargetMatch {
  const matches = canaries.filter((canary) => claims(canary, push));
  const pushed = `${push.repository}:${push.tag ?? '<no tag>'}`;
  if (matches.length === 1) {
    const [canary] = matches;
    if (canary.suspend) {
      return { kind: 'ignored', reason: `Canary ${canary.namespace}/${canary.name} claims ${pushed} but is suspended (spec.suspend: true)` };
    }
    return { kind: 'matched', canary };
  }
  if (matches.length > 1) {
    throw new SpecValidationError(
      `image ${pushed} is claimed by ${matches.length} Canaries (${matches.map((c) => `${c.namespace}/${c.name}`).join(', ')}): ` +
        'set spec.fledge.imageRepository or spec.fledge.tagPattern so that one Canary claims it',
    );
  }
  const wanted = canaries
    .map((c) => `${c.namespace}/${c.name} wants ${c.fledge.imageRepository} tags /${c.fledge.tagPattern}/`)
    .join('; ');
  return { kind: 'ignored', reason: `no Canary claims ${pushed}${wanted ? ` (${wanted})` : ' (no Canaries are configured)'}` };
}

/** The names a rollout of this Canary works with. */
export function rolloutTarget(canary: CanarySpec): RolloutTarget {
  return {
    namespace: canary.namespace,
    deployment: canary.targetName,
    canaryDeployment: `${canary.targetName}-canary`,
    service: canary.serviceName,
    canaryService: `${canary.serviceName}-canary`,
    port: canary.servicePort,
    route: canary.fledge.route,
  };
}

/**
 * The container that takes the pushed image: spec.fledge.container, or the one container whose
 * image comes from the pushed repository. Anything else is an error naming the containers.
 */
export function selectContainer(
  images: Readonly<Record<string, string>>,
  repository: string,
  explicit: string | undefined,
  where: string,
): string {
  const listing = Object.entries(images)
    .map(([name, image]) => `${name}=${image}`)
    .join(', ');
  if (explicit !== undefined) {
    if (!Object.hasOwn(images, explicit)) {
      throw new TargetNotFoundError(`${where}: container ${showValue(explicit)} (spec.fledge.container) not found; containers: ${listing}`);
    }
    return explicit;
  }
  const fromRepository = Object.keys(images).filter((name) => imageRepositoryPath(images[name]) === repository);
  if (fromRepository.length === 1) return fromRepository[0];
  throw new TargetNotFoundError(
    `${where}: ${fromRepository.length === 0 ? 'no' : `${fromRepository.length}`} containers run an image from repository ` +
      `${showValue(repository)} (containers: ${listing}); set spec.fledge.container`,
  );
}

/** The stable container already runs the pushed image (a re-push, or the same digest under another tag). */
export function alreadyRuns(currentImage: string, push: Pick<ImagePush, 'image' | 'digest'>): boolean {
  return currentImage === push.image || currentImage.endsWith(`@${push.digest}`);
}
