import { ConfigError } from './config-error.js';

/** Runs a service's start-up; a configuration error becomes one line on stderr per problem and exit code 78. */
export async function startOrExit(name: string, start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.message.split('\n')) process.stderr.write(`${name}: configuration error: ${line}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
