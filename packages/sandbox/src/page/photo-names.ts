import { randomBytes } from 'node:crypto';

/** The names the sandbox's photos go by: `customer-…png`, `agent-…png`; anything else is not one. */
export const PHOTO_NAME = /^(?:customer|agent)-[a-z0-9]{1,32}\.png$/;

/** A fresh name for a photo `who` sends; the name also draws it (see `stripesPng`). */
export function photoName(who: 'customer' | 'agent'): string {
  return `${who}-${uniqueId()}.png`;
}

/** A short id unique enough for the sandbox: time and three random bytes. */
export function uniqueId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
