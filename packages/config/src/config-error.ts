/** A missing or malformed environment variable: the message is the one line start-up prints. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly problem: string,
    readonly expected: string,
  ) {
    super(`${variable} ${problem}: ${expected}`);
  }
}
