/** An IM REST call that did not succeed: the platform code (0 for network/HTTP faults) and what it said. */
export abstract class ImError extends Error {
  abstract readonly kind: 'transient' | 'rate_limited' | 'credential' | 'not_imported' | 'permanent';
  constructor(
    readonly command: string,
    readonly code: number,
    readonly info: string,
  ) {
    super(`IM ${command} failed: ${code === 0 ? info : `${code} ${info}`}`);
  }
}
