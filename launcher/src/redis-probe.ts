import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

/**
 * What answers at `host:port`: `absent` when the connection is refused (nothing listens), `pong`
 * when a Redis answers PING, `busy` when something else answers (a Redis still loading its AOF,
 * one that wants a password, or another program): a Redis is there, or something that is not ours.
 */
export async function probeRedis(host: string, port: number, timeoutMs = 2000): Promise<'absent' | 'pong' | 'busy'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let heard = '';
    const done = (result: 'absent' | 'pong' | 'busy') => {
      socket.destroy();
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => done('busy'), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'absent' : 'busy'));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      heard += d.toString('latin1');
      if (heard.includes('\r\n')) done(heard.startsWith('+PONG') ? 'pong' : 'busy');
    });
    socket.on('end', () => done('busy'));
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
