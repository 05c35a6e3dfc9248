// The ECR push event (EventBridge "ECR Image Action") read into the image Fledge rolls out.
import { InvalidEventError } from './errors';
import { showValue } from './show-value';

export interface ImagePush {
  readonly account: string;
  readonly region: string;
  readonly repository: string;
  /** The pushed tag; undefined for a push by digest only. */
  readonly tag?: string;
  readonly digest: string;
  /** The image reference pinned by digest: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@<digest>` (`.amazonaws.com.cn` in China). */
  readonly image: string;
  /** When ECR sent the event. */
  readonly time: string;
}

function field(value: unknown, path: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || value === '' || (pattern && !pattern.test(value))) {
    throw new InvalidEventError(
      `${path}: expected ${pattern ? `a value matching ${pattern}` : 'a non-empty string'}, got ${showValue(value ?? null)}`,
    );
  }
  return value;
}

/** Read an ECR push event; anything else is an InvalidEventError naming the field and the value. */
export function parseImagePush(event: unknown): ImagePush {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError(`event: expected an EventBridge event object, got ${showValue(event ?? null)}`);
  }
  const e = event as Record<string, unknown>;
  if (e.source !== 'aws.ecr') {
    throw new InvalidEventError(`source: expected "aws.ecr", got ${showValue(e.source ?? null)}`);
  }
  if (e['detail-type'] !== 'ECR Image Action') {
    throw new InvalidEventError(`detail-type: expected "ECR Image Action", got ${showValue(e['detail-type'] ?? null)}`);
  }
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null) {
    throw new InvalidEventError(`detail: expected an object, got ${showValue(detail ?? null)}`);
  }
  const d = detail as Record<string, unknown>;
  if (d['action-type'] !== 'PUSH') {
    throw new InvalidEventError(`detail.action-type: expected "PUSH", got ${showValue(d['action-type'] ?? null)}`);
  }
  if (d.result !== 'SUCCESS') {
    throw new InvalidEventError(`detail.result: expected "SUCCESS", got ${showValue(d.result ?? null)}`);
  }
  const account = field(e.account, 'account', /^\d{12}$/);
  const region = field(e.region, 'region', /^[a-z]{2}(-[a-z]+)+-\d$/);
  const repository = field(d['repository-name'], 'detail.repository-name', /^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/);
  const digest = field(d['image-digest'], 'detail.image-digest', /^sha256:[a-f0-9]{32,64}$/);
  const tag = d['image-tag'] === undefined || d['image-tag'] === '' ? undefined : field(d['image-tag'], 'detail.image-tag', /^[\w][\w.-]{0,127}$/);
  const time = typeof e.time === 'string' ? e.time : '';
  return {
    account,
    region,
    repository,
    tag,
    digest,
    image: `${account}.dkr.ecr.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}/${repository}@${digest}`,
    time,
  };
}

/** The repository path of an image reference: `1234.dkr.ecr.us-west-2.amazonaws.com/team/web:1.2@sha256:…` → `team/web`. */
export function imageRepositoryPath(image: string): string {
  const withoutDigest = image.split('@')[0];
  const slash = withoutDigest.indexOf('/');
  const firstPart = slash >= 0 ? withoutDigest.slice(0, slash) : '';
  // A first part with a dot, a colon or "localhost" is a registry host, as Docker reads references.
  const hasRegistry = slash >= 0 && (/[.:]/.test(firstPart) || firstPart === 'localhost');
  const path = hasRegistry ? withoutDigest.slice(slash + 1) : withoutDigest;
  const colon = path.lastIndexOf(':');
  return colon > path.lastIndexOf('/') ? path.slice(0, colon) : path;
}
