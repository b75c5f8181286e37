/**
 * Errors of the Kubernetes layer, in one table: what the API server answered (its HTTP status
 * and the Status object's `reason`), or that it could not be asked. Every failure of a request
 * made through this layer is a `KubeError` with a stable `code`; callers branch on `code` (or on
 * `retriable`), never on message text, which is for people.
 *
 * Mapping: the Status `reason` decides when the server gave one (a 409 is Conflict — a stale
 * resourceVersion — or AlreadyExists; a 410 is Expired or Gone; a 504 Timeout, a 500 with reason
 * Timeout/ServerTimeout...); a bare status (a watch's failed HTTP answer, a proxy's error page)
 * falls back to the status code.
 */
import { BrookError } from '../errors.ts';

export const KubeErrorCode = {
  /** 400 BadRequest: a request the server could not parse. */
  BAD_REQUEST: 'BROOK_ERR_KUBE_BAD_REQUEST',
  /** 401 Unauthorized: the credentials were refused. */
  UNAUTHORIZED: 'BROOK_ERR_KUBE_UNAUTHORIZED',
  /** 403 Forbidden: RBAC does not allow it. */
  FORBIDDEN: 'BROOK_ERR_KUBE_FORBIDDEN',
  /** 404 NotFound: no such object (or kind). */
  NOT_FOUND: 'BROOK_ERR_KUBE_NOT_FOUND',
  /** 409 Conflict: the resourceVersion (or a precondition) was not current: a lost compare-and-swap. */
  CONFLICT: 'BROOK_ERR_KUBE_CONFLICT',
  /** 409 AlreadyExists: a create of a name that is taken. */
  ALREADY_EXISTS: 'BROOK_ERR_KUBE_ALREADY_EXISTS',
  /** 410 Expired / Gone: a list or watch from a resourceVersion the server no longer has (relist). */
  GONE: 'BROOK_ERR_KUBE_GONE',
  /** 422 Invalid: the object failed validation (`causes` name the fields). */
  INVALID: 'BROOK_ERR_KUBE_INVALID',
  /** 429 TooManyRequests: throttled, or storage (re)initializing right after a CRD is established. */
  TOO_MANY_REQUESTS: 'BROOK_ERR_KUBE_TOO_MANY_REQUESTS',
  /** Timeout / ServerTimeout (504, 500 with that reason, 408): the server gave up on the request. */
  TIMEOUT: 'BROOK_ERR_KUBE_TIMEOUT',
  /** 503 ServiceUnavailable: the server is starting or overloaded. */
  UNAVAILABLE: 'BROOK_ERR_KUBE_UNAVAILABLE',
  /** 500 InternalError, or any other 5xx. */
  INTERNAL: 'BROOK_ERR_KUBE_INTERNAL',
  /** Any other 4xx (405, 406, 413, 415...). */
  REFUSED: 'BROOK_ERR_KUBE_REFUSED',
  /** No answer: connection refused or reset, TLS failure, the request's own timeout. */
  UNREACHABLE: 'BROOK_ERR_KUBE_UNREACHABLE',
  /** The kubeconfig names no current cluster. */
  KUBECONFIG: 'BROOK_ERR_KUBECONFIG',
  /** A write this process made did not show up in its watch in time. */
  WATCH_TIMEOUT: 'BROOK_ERR_WATCH_TIMEOUT',
} as const;

export type KubeErrorCode = (typeof KubeErrorCode)[keyof typeof KubeErrorCode];

/** One field-level cause of a 422 (Status.details.causes[]): `field` is a path such as `spec.partitions`. */
export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

/** The Kubernetes `Status` object a failed request answers with. */
export interface Status {
  readonly kind?: 'Status';
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly details?: { readonly causes?: readonly StatusCause[] };
}

/** The table: [code, Status reasons, HTTP statuses without a reason, retriable]. */
const table: ReadonlyArray<readonly [KubeErrorCode, readonly string[], readonly number[], boolean]> = [
  [KubeErrorCode.BAD_REQUEST, ['BadRequest'], [400], false],
  [KubeErrorCode.UNAUTHORIZED, ['Unauthorized'], [401], false],
  [KubeErrorCode.FORBIDDEN, ['Forbidden'], [403], false],
  [KubeErrorCode.NOT_FOUND, ['NotFound'], [404], false],
  [KubeErrorCode.CONFLICT, ['Conflict'], [409], true],
  [KubeErrorCode.ALREADY_EXISTS, ['AlreadyExists'], [], false],
  [KubeErrorCode.GONE, ['Expired', 'Gone'], [410], true],
  [KubeErrorCode.INVALID, ['Invalid'], [422], false],
  [KubeErrorCode.TOO_MANY_REQUESTS, ['TooManyRequests'], [429], true],
  [KubeErrorCode.TIMEOUT, ['Timeout', 'ServerTimeout'], [408, 504], true],
  [KubeErrorCode.UNAVAILABLE, ['ServiceUnavailable'], [503], true],
  [KubeErrorCode.INTERNAL, ['InternalError'], [500, 502], true],
  [KubeErrorCode.REFUSED, ['MethodNotAllowed', 'NotAcceptable', 'RequestEntityTooLarge', 'UnsupportedMediaType'], [405, 406, 413, 415], false],
  [KubeErrorCode.UNREACHABLE, [], [], true],
  [KubeErrorCode.KUBECONFIG, [], [], false],
  [KubeErrorCode.WATCH_TIMEOUT, [], [], true],
];

const byReason = new Map<string, KubeErrorCode>();
const byStatus = new Map<number, KubeErrorCode>();
const retriableCodes = new Set<KubeErrorCode>();
for (const [code, reasons, statuses, retriable] of table) {
  for (const r of reasons) byReason.set(r, code);
  for (const s of statuses) byStatus.set(s, code);
  if (retriable) retriableCodes.add(code);
}

/** The code of an answer with HTTP `status` and Status `reason` (either may be missing). */
export function kubeErrorCodeOf(status: number | undefined, reason: string | undefined): KubeErrorCode {
  const fromReason = reason ? byReason.get(reason) : undefined;
  if (fromReason) return fromReason;
  if (status === undefined || status === 0) return KubeErrorCode.UNREACHABLE;
  return byStatus.get(status) ?? (status >= 500 ? KubeErrorCode.INTERNAL : KubeErrorCode.REFUSED);
}

export class KubeError extends BrookError<KubeErrorCode> {
  /** The HTTP status the server answered (0: no answer). */
  readonly status: number;
  /** The Status object's reason ('' when none). */
  readonly reason: string;
  /** Field-level causes of a 422. */
  readonly causes: readonly StatusCause[];

  constructor(code: KubeErrorCode, message: string, opts: { status?: number; reason?: string; causes?: readonly StatusCause[]; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status ?? 0;
    this.reason = opts.reason ?? '';
    this.causes = opts.causes ?? [];
  }

  get retriable(): boolean { return retriableCodes.has(this.code); }

  /** The error for a failed answer: HTTP `status` and the Status object in its body (if any). */
  static fromStatus(what: string, status: number, body: Status | undefined): KubeError {
    const code = kubeErrorCodeOf(status || body?.code, body?.reason);
    return new KubeError(code, `${what}: ${status || body?.code || ''} ${body?.message ?? body?.reason ?? ''}`.trimEnd(), {
      status: status || body?.code || 0, reason: body?.reason, causes: body?.details?.causes,
    });
  }
}

/**
 * Any failure of a Kubernetes request as a KubeError: KubeErrors pass through; an error carrying
 * an HTTP status (client-node's Watch sets `statusCode`, its API clients' ApiException `code`)
 * maps by that status; anything else (fetch failed, aborted) is UNREACHABLE, with the original
 * as `cause`.
 */
export function toKubeError(err: unknown, what = 'Kubernetes request'): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { statusCode?: unknown; code?: unknown; body?: unknown; message?: string; cause?: { message?: string } } | null;
  // A numeric `code` is an HTTP status on client-node's ApiException; on a DOMException (an
  // aborted or timed-out request: TimeoutError's is 23) it is not.
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' && !(err instanceof DOMException) ? e.code : undefined;
  if (status !== undefined) {
    let body: Status | undefined;
    if (typeof e?.body === 'string') { try { body = JSON.parse(e.body) as Status; } catch { body = undefined; } } else if (e?.body && typeof e.body === 'object') body = e.body as Status;
    const out = KubeError.fromStatus(what, status, body);
    return new KubeError(out.code, out.message, { status: out.status, reason: out.reason, causes: out.causes, cause: err });
  }
  const detail = `${e?.message ?? String(err)}${e?.cause?.message ? ` (${e.cause.message})` : ''}`;
  return new KubeError(KubeErrorCode.UNREACHABLE, `${what}: ${detail}`, { cause: err });
}

/** The KubeErrorCode of `err`, or undefined when it is not a Kubernetes failure. */
export function kubeCodeOf(err: unknown): KubeErrorCode | undefined {
  return err instanceof KubeError ? err.code : undefined;
}

export const isNotFound = (err: unknown): boolean => kubeCodeOf(err) === KubeErrorCode.NOT_FOUND;
/** A lost compare-and-swap: Conflict (stale resourceVersion) — and AlreadyExists for a create racing another. */
export const isConflict = (err: unknown): boolean => kubeCodeOf(err) === KubeErrorCode.CONFLICT || kubeCodeOf(err) === KubeErrorCode.ALREADY_EXISTS;
export const isGone = (err: unknown): boolean => kubeCodeOf(err) === KubeErrorCode.GONE;
