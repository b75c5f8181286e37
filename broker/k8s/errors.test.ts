import { describe, expect, test } from '@jest/globals';
import { KubeError, KubeErrorCode, isConflict, isGone, isNotFound, kubeErrorCodeOf, toKubeError } from './errors.ts';

describe('KubeError: API failures by HTTP status and Status reason, never by message text', () => {
  test.each([
    [404, 'NotFound', KubeErrorCode.NOT_FOUND],
    [409, 'Conflict', KubeErrorCode.CONFLICT],
    [409, 'AlreadyExists', KubeErrorCode.ALREADY_EXISTS],
    [422, 'Invalid', KubeErrorCode.INVALID],
    [403, 'Forbidden', KubeErrorCode.FORBIDDEN],
    [401, 'Unauthorized', KubeErrorCode.UNAUTHORIZED],
    [410, 'Expired', KubeErrorCode.GONE],
    [410, 'Gone', KubeErrorCode.GONE],
    [429, 'TooManyRequests', KubeErrorCode.TOO_MANY_REQUESTS],
    [504, 'Timeout', KubeErrorCode.TIMEOUT],
    [500, 'ServerTimeout', KubeErrorCode.TIMEOUT],
    [503, 'ServiceUnavailable', KubeErrorCode.UNAVAILABLE],
    [500, 'InternalError', KubeErrorCode.INTERNAL],
    [400, 'BadRequest', KubeErrorCode.BAD_REQUEST],
  ])('%i %s is %s', (status, reason, code) => {
    expect(kubeErrorCodeOf(status, reason)).toBe(code);
  });

  test('the reason decides over the status: a 500 whose reason is Timeout is a timeout', () => {
    expect(kubeErrorCodeOf(500, 'Timeout')).toBe(KubeErrorCode.TIMEOUT);
  });

  test('without a reason the status decides (a watch\'s failed answer, a proxy page)', () => {
    expect(kubeErrorCodeOf(410, undefined)).toBe(KubeErrorCode.GONE);
    expect(kubeErrorCodeOf(502, '')).toBe(KubeErrorCode.INTERNAL);
    expect(kubeErrorCodeOf(599, undefined)).toBe(KubeErrorCode.INTERNAL);
    expect(kubeErrorCodeOf(418, undefined)).toBe(KubeErrorCode.REFUSED);
    expect(kubeErrorCodeOf(undefined, undefined)).toBe(KubeErrorCode.UNREACHABLE);
  });

  test('the message plays no part: a 404 saying "conflict" is still NotFound', () => {
    const err = KubeError.fromStatus('GET /x', 404, { reason: 'NotFound', message: 'Operation cannot be fulfilled: conflict, already exists, 409' });
    expect(err.code).toBe(KubeErrorCode.NOT_FOUND);
    expect(isNotFound(err)).toBe(true);
    expect(isConflict(err)).toBe(false);
  });

  test('a 422 keeps its field-level causes and the status for people', () => {
    const err = KubeError.fromStatus('PUT /t', 422, {
      reason: 'Invalid', message: 'Topic.brook.dev "t" is invalid: spec.partitions: ...',
      details: { causes: [{ reason: 'FieldValueInvalid', field: 'spec.partitions', message: 'cannot be decreased' }] },
    });
    expect(err).toMatchObject({ code: 'BROOK_ERR_KUBE_INVALID', status: 422, reason: 'Invalid', name: 'KubeError' });
    expect(err.causes.map((c) => c.field)).toEqual(['spec.partitions']);
    expect(err.message).toContain('is invalid');
    expect(err.retriable).toBe(false);
  });

  test('errors from client-node: a Watch failure (statusCode), an ApiException (code, JSON body), a transport failure', () => {
    const watchFailure = Object.assign(new Error('Gone'), { statusCode: 410 });
    expect(isGone(toKubeError(watchFailure))).toBe(true);
    const apiException = Object.assign(new Error('HTTP-Code: 409'), { code: 409, body: JSON.stringify({ kind: 'Status', reason: 'AlreadyExists', code: 409 }) });
    expect(toKubeError(apiException).code).toBe(KubeErrorCode.ALREADY_EXISTS);
    const refused = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') });
    const err = toKubeError(refused, 'GET /api');
    expect(err).toMatchObject({ code: KubeErrorCode.UNREACHABLE, status: 0, cause: refused });
    expect(err.message).toBe('GET /api: fetch failed (connect ECONNREFUSED 127.0.0.1:6443)');
    expect(err.retriable).toBe(true);
  });

  test('a timed-out or aborted request (a DOMException, whose numeric code is not an HTTP status) is UNREACHABLE', () => {
    const timedOut = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(timedOut.code).toBe(23);
    const err = toKubeError(timedOut, 'GET /api');
    expect(err).toMatchObject({ code: KubeErrorCode.UNREACHABLE, status: 0 });
    expect(err.message).toBe('GET /api: The operation was aborted due to timeout');
  });

  test('a watch ERROR event\'s Status (no HTTP status of its own) maps by its code and reason', () => {
    expect(isGone(KubeError.fromStatus('watch', 0, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }))).toBe(true);
  });
});
