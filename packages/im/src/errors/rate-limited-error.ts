import { ImError } from './im-error.js';

/** IM's frequency limits: slow down without spending an attempt. */
export class ImRateLimitedError extends ImError {
  override readonly name = 'ImRateLimitedError';
  readonly kind = 'rate_limited';
  /** How long to hold back before the next call, in ms (70050 asks for a minute). */
  get retryAfterMs(): number {
    return this.code === 70050 ? 60_000 : 1000;
  }
}
