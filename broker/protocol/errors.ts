/**
 * Errors of the protocol layer, each with a stable `code`. Decoding untrusted bytes only ever
 * throws ProtocolDecodeError; the server answers it by closing the connection (or, for an
 * unsupported version, with UNSUPPORTED_VERSION — see index.ts). Encoding errors are bugs in
 * the caller (a value of the wrong type or range) and throw ProtocolEncodeError.
 */
import { BrookError } from '../errors.ts';

export type ProtocolDecodeErrorCode =
  | 'BROOK_ERR_MALFORMED_FRAME'
  | 'BROOK_ERR_UNSUPPORTED_VERSION'
  | 'BROOK_ERR_UNKNOWN_API';

export class ProtocolDecodeError extends BrookError<ProtocolDecodeErrorCode> {}

export class ProtocolEncodeError extends Error {
  readonly code = 'BROOK_ERR_ENCODE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtocolEncodeError';
  }
}
