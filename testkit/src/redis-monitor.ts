import { once } from 'node:events';
import { connect } from 'node:net';

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };

/** The arguments of a MONITOR line's command, unquoted (Redis writes each as a quoted string, escaped). */
function parseArgs(quoted: string): string[] {
  const args: string[] = [];
  for (let i = 0; i < quoted.length; i++) {
    if (quoted[i] !== '"') continue;
    let arg = '';
    for (i++; i < quoted.length && quoted[i] !== '"'; i++) {
      if (quoted[i] !== '\\') {
        arg += quoted[i];
      } else if (quoted[i + 1] === 'x') {
        arg += String.fromCharCode(parseInt(quoted.slice(i + 2, i + 4), 16));
        i += 3;
      } else {
        arg += ESCAPES[quoted[i + 1]!] ?? quoted[i + 1];
        i += 1;
      }
    }
    args.push(arg);
  }
  return args;
}

/**
 * Every command Redis runs from now on, as MONITOR shows it: its arguments (the command first) and
 * its source (`127.0.0.1:port`, or `lua` for a script's own calls). On a plain socket: ioredis's
 * monitor() takes a line that comes in the same read as MONITOR's OK for an answer nobody asked
 * for, and fails, which a busy Redis makes likely.
 */
export async function watchRedis(url: string, onCommand: (args: string[], source: string) => void): Promise<{ stop(): void }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.setEncoding('utf8');
  let buffer = '';
  let on!: () => void;
  const monitoring = new Promise<void>((resolve) => (on = resolve));
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (line === '+OK') on();
      const m = /^\+\S+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
      if (m !== null) onCommand(parseArgs(m[2]!), m[1]!);
    }
  });
  socket.write('MONITOR\r\n');
  await monitoring;
  return { stop: () => socket.destroy() };
}
