import { ImError } from './im-error.js';

/** Network errors, HTTP 5xx, timeouts and IM's "busy" codes: retry with backoff. */
export class ImTransientError extends ImError {
  override readonly name = 'ImTransientError';
  readonly kind = 'transient';
}
