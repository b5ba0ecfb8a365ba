import { ImError } from './im-error.js';

/** Validation, content security, blocked by a callback, refused re-import: retrying cannot help. */
export class ImPermanentError extends ImError {
  override readonly name = 'ImPermanentError';
  readonly kind = 'permanent';
}
