import { execFile } from 'node:child_process';

/** The Docker client: DOCKER when set (e.g. a client that builds with BuildKit), else docker on PATH. */
export const DOCKER = process.env['DOCKER'] ?? 'docker';

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function docker(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<DockerResult> {
  return new Promise((resolve) => {
    execFile(
      DOCKER,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, env: { ...process.env, ...options.env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
      },
    );
  });
}

/** Runs `docker args`; its trimmed output, or an error carrying what docker said. */
export async function dockerOk(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const result = await docker(args, options);
  if (result.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(' ')} failed (${result.code}): ${result.stderr.trim().slice(-3000)}`);
  return result.stdout.trim();
}
