import type { EddyErrorCode } from './error-codes.js';

/**
 * Every failure Eddy reports is an EddyError with a stable `code` (as undici does), a message that
 * says what and where, and the data needed to act on it.
 */
export class EddyError extends Error {
  readonly code: EddyErrorCode;
  constructor(code: EddyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes that do not follow Fluvio's encoding. `position` is the byte offset where decoding failed. */
export class DecodeError extends EddyError {
  readonly position: number;
  constructor(message: string, position: number) {
    super('EDDY_DECODE', `${message} (at byte ${position})`);
    this.position = position;
  }
}

/** A value that Fluvio's encoding cannot represent faithfully (it would be silently corrupted). */
export class EncodeError extends EddyError {
  constructor(message: string) {
    super('EDDY_ENCODE', message);
  }
}
