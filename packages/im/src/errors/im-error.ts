/** IM's ErrorInfo is text from outside: logs and the dashboard get at most this much of it. */
const MAX_INFO = 200;

/** An IM REST call that did not succeed: the platform code (0 for network/HTTP faults) and what it said. */
export abstract class ImError extends Error {
  abstract readonly kind: 'transient' | 'rate_limited' | 'credential' | 'not_imported' | 'permanent';
  readonly info: string;
  constructor(
    readonly command: string,
    readonly code: number,
    info: string,
  ) {
    const shown = info.length > MAX_INFO ? `${info.slice(0, MAX_INFO)}…` : info;
    super(`IM ${command} failed: ${code === 0 ? shown : `${code} ${shown}`}`);
    this.info = shown;
  }
}
