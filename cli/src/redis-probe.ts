import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

export type ProbeResult = 'absent' | 'pong' | 'loading' | 'noauth' | 'other';

/**
 * What answers at `host:port`: `absent` when the connection is refused (nothing listens), `pong`
 * when a Redis answers PING, `loading` when a Redis is still replaying its AOF, `noauth` when a
 * Redis wants a password, `other` when something else answers, or nothing within `timeoutMs`.
 */
export async function probeRedis(host: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  const answer = await ask(host, port, 'PING', timeoutMs);
  if (answer === 'refused') return 'absent';
  if (answer.startsWith('+PONG')) return 'pong';
  if (answer.startsWith('-LOADING')) return 'loading';
  if (answer.startsWith('-NOAUTH')) return 'noauth';
  return 'other';
}

/** The data folder of the Redis answering at `host:port` (CONFIG GET dir), if one answers it. */
export async function redisDir(host: string, port: number, timeoutMs = 2000): Promise<string | undefined> {
  // *2 $3 dir $<n> <path>: the fifth line is the value.
  const lines = (await ask(host, port, 'CONFIG GET dir', timeoutMs, 5)).split('\r\n');
  return lines[0] === '*2' ? lines[4] : undefined;
}

/** Sends one inline command and resolves to what came back once `lines` lines have (or '' / 'refused'). */
function ask(host: string, port: number, command: string, timeoutMs: number, lines = 1): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let heard = '';
    const done = (result: string) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => done(heard), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : heard));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d: Buffer) => {
      heard += d.toString('latin1');
      const complete = heard.split('\r\n').length > lines || heard.startsWith('-');
      if (complete) done(heard);
    });
    socket.on('end', () => done(heard));
  });
}

/** The path of the executable `name` on `path` (a PATH value), if there is one. */
export function onPath(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter((d) => d !== '')) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
