/** WeChat's errmsg is text from outside: logs and the dashboard get at most this much of it. */
const MAX_INFO = 200;

export type WechatErrorKind = 'transient' | 'uncertain' | 'rate_limited' | 'credential' | 'permanent';

/**
 * A WeChat API call that did not succeed: the API (`message/custom/send`, `stable_token`, …), the
 * errcode (0 for network and HTTP faults) and what went wrong. Never carries a URL: WeChat's URLs
 * hold the access_token (and `cgi-bin/token`'s the AppSecret).
 */
export abstract class WechatApiError extends Error {
  abstract readonly kind: WechatErrorKind;
  readonly info: string;
  constructor(
    readonly api: string,
    readonly code: number,
    info: string,
  ) {
    const clean = scrubCredentials(info);
    const shown = clean.length > MAX_INFO ? `${clean.slice(0, MAX_INFO)}…` : clean;
    super(`WeChat ${api} failed: ${code === 0 ? shown : `${code} ${shown}`}`);
    this.info = shown;
  }
}

/** A last guard: whatever follows `access_token=` or `secret=` in a text is blanked out. */
export function scrubCredentials(text: string): string {
  return text.replace(/\b(access_token|secret)=[^&\s"']*/gi, '$1=***');
}

/** `text` with each of the given secrets (the token in use, the AppSecret) blanked out. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret === '' ? out : out.split(secret).join('***')), text);
}
