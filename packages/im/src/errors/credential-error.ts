import { ImError } from './im-error.js';

/**
 * 70001 (the UserSig expired): regenerate it and retry once. The other credential codes are
 * configuration errors (wrong key, admin or app id) that no retry of ours can mend.
 */
export class ImCredentialError extends ImError {
  override readonly name = 'ImCredentialError';
  readonly kind = 'credential';
  get renewable(): boolean {
    return this.code === 70001;
  }
}
