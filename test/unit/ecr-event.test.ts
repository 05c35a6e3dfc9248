// The ECR push event read into the image Fledge rolls out, and the repository path of image references.
import { describe, expect, it } from 'vitest';
import { imageRepositoryPath, parseImagePush } from '../../lambdas/core/ecr-event';
import { InvalidEventError } from '../../lambdas/core/errors';
import type { Document } from './seed';
import { ecrPushEvent, thrown } from './seed';

const DIGEST = 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234';

function rejection(change: (event: Document) => void): Error {
  const event = ecrPushEvent();
  change(event);
  const error = thrown(() => parseImagePush(event));
  expect(error).toBeInstanceOf(InvalidEventError);
  expect(error.name).toBe('InvalidEventError');
  return error;
}

function pushed(change: (event: Document) => void) {
  const event = ecrPushEvent();
  change(event);
  return parseImagePush(event);
}

describe('parseImagePush', () => {
  it('reads the ECR push fixture into an image pinned by digest', () => {
    // Act
    const push = parseImagePush(ecrPushEvent());

    // Assess
    expect(push).toEqual({
      account: '123456789012',
      region: 'us-west-2',
      repository: 'web',
      tag: '1.4.2',
      digest: DIGEST,
      image: `123456789012.dkr.ecr.us-west-2.amazonaws.com/web@${DIGEST}`,
      time: '2026-11-16T01:54:34Z',
    });
  });

  it('pins a nested repository by digest, and reads its path back', () => {
    // Act
    const push = pushed((event) => {
      event.detail['repository-name'] = 'team/web';
    });

    // Assess
    expect(push.image).toBe(`123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web@${DIGEST}`);
    expect(imageRepositoryPath(push.image)).toBe('team/web');
  });

  it('uses the amazonaws.com.cn registry domain in the China regions', () => {
    // Act
    const push = pushed((event) => {
      event.region = 'cn-north-1';
    });

    // Assess
    expect(push.image).toBe(`123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web@${DIGEST}`);
  });

  it.each([
    ['missing', (event: Document) => delete event.detail['image-tag']],
    ['empty', (event: Document) => (event.detail['image-tag'] = '')],
  ])('leaves the tag undefined when it is %s (a push by digest)', (_how, change) => {
    expect(pushed(change).tag).toBeUndefined();
  });

  it('rejects an event from another source', () => {
    expect(rejection((event) => (event.source = 'aws.s3')).message).toBe('source: expected "aws.ecr", got "aws.s3"');
  });

  it('rejects another ECR detail-type', () => {
    expect(rejection((event) => (event['detail-type'] = 'ECR Image Scan')).message).toBe(
      'detail-type: expected "ECR Image Action", got "ECR Image Scan"',
    );
  });

  it('rejects a DELETE action', () => {
    expect(rejection((event) => (event.detail['action-type'] = 'DELETE')).message).toBe(
      'detail.action-type: expected "PUSH", got "DELETE"',
    );
  });

  it('rejects a push that failed', () => {
    expect(rejection((event) => (event.detail.result = 'FAILURE')).message).toBe('detail.result: expected "SUCCESS", got "FAILURE"');
  });

  it('rejects a digest that is not a sha256 digest', () => {
    expect(rejection((event) => (event.detail['image-digest'] = 'sha256:XYZ')).message).toBe(
      'detail.image-digest: expected a value matching /^sha256:[a-f0-9]{32,64}$/, got "sha256:XYZ"',
    );
  });

  it('rejects a missing digest', () => {
    expect(rejection((event) => delete event.detail['image-digest']).message).toBe(
      'detail.image-digest: expected a value matching /^sha256:[a-f0-9]{32,64}$/, got null',
    );
  });

  it('rejects a tag that Docker would not accept', () => {
    expect(rejection((event) => (event.detail['image-tag'] = '-1.4')).message).toBe(
      'detail.image-tag: expected a value matching /^[\\w][\\w.-]{0,127}$/, got "-1.4"',
    );
  });

  it('rejects an account that is not 12 digits', () => {
    expect(rejection((event) => (event.account = '1234')).message).toBe('account: expected a value matching /^\\d{12}$/, got "1234"');
  });

  it('rejects an event without a detail object', () => {
    expect(rejection((event) => delete event.detail).message).toBe('detail: expected an object, got null');
  });

  it.each([
    [null, 'event: expected an EventBridge event object, got null'],
    ['{"source":"aws.ecr"}', 'event: expected an EventBridge event object, got "{\\"source\\":\\"aws.ecr\\"}"'],
    [[1], 'event: expected an EventBridge event object, got a list of 1'],
  ])('rejects %j as not an event', (input, message) => {
    // Act
    const error = thrown(() => parseImagePush(input));

    // Assess
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error.message).toBe(message);
  });
});

describe('imageRepositoryPath', () => {
  it.each([
    ['123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web:1.4.2', 'team/web'],
    [`123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web@${DIGEST}`, 'team/web'],
    [`123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.2@${DIGEST}`, 'web'],
    ['nginx', 'nginx'],
    ['nginx:1.25', 'nginx'],
    ['bitnami/redis:7.2', 'bitnami/redis'],
    ['docker.io/library/nginx:1.25', 'library/nginx'],
    ['localhost:5000/web:1.0', 'web'],
    ['localhost:5000/team/web', 'team/web'],
    ['localhost/web:1.0', 'web'],
    ['registry.local:5000/web', 'web'],
  ])('reads %s as repository %s', (image, repository) => {
    expect(imageRepositoryPath(image)).toBe(repository);
  });
});
