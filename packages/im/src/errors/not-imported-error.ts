import { ImError } from './im-error.js';

/** An account in the call does not exist in IM: import it and resend once. */
export class ImNotImportedError extends ImError {
  override readonly name = 'ImNotImportedError';
  readonly kind = 'not_imported';
}
