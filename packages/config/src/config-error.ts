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

/** Several configuration errors at once (e.g. one per account of ACCOUNTS_FILE): a line each. */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors[0]!.variable, errors[0]!.problem, errors[0]!.expected);
    this.message = errors.map((e) => e.message).join('\n');
  }
}
