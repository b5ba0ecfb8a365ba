import { ConfigError } from './config-error.js';
import { type Env, raw, url } from './readers.js';

/** Customers' voice and video relayed to agents as links to the gateway's /media/ (see docs/configuration.md). */
export interface MediaSettings {
  /** MEDIA_PUBLIC_URL: the origin (and path prefix) agents' IM clients reach the gateway at; unset, media go as text notes. */
  publicUrl?: string;
  /** MEDIA_URL_SECRET: the HMAC key the links are signed with. Never logged. */
  urlSecret?: string;
}

/** The fixed key of sandbox mode, which only serves the simulators' made-up recordings. */
export const SANDBOX_MEDIA_URL_SECRET = 'sandbox-media-url-secret-not-for-real-use';

export function mediaSettings(env: Env): MediaSettings {
  const set = raw(env, 'MEDIA_PUBLIC_URL') !== undefined;
  const publicUrl = set ? url(env, 'MEDIA_PUBLIC_URL', ['https:', 'http:'], 'https://relay.example.com') : undefined;
  if (publicUrl !== undefined && /[?#]/.test(publicUrl))
    throw new ConfigError('MEDIA_PUBLIC_URL', 'is malformed', 'the public origin of the gateway, such as https://relay.example.com, with no query');
  const urlSecret = raw(env, 'MEDIA_URL_SECRET');
  if (urlSecret !== undefined && !/^[\x21-\x7e]{32,256}$/.test(urlSecret))
    throw new ConfigError('MEDIA_URL_SECRET', 'is malformed', 'at least 32 printable characters without spaces, e.g. from `openssl rand -base64 32`');
  // Without the secret, only the services that sign or check links (the gateway, the im-worker)
  // refuse to start (requireSettings' MEDIA_URL_SECRET): the others share MEDIA_PUBLIC_URL in one
  // ConfigMap and never see the secret.
  return { ...(publicUrl === undefined ? {} : { publicUrl }), ...(urlSecret === undefined ? {} : { urlSecret }) };
}
