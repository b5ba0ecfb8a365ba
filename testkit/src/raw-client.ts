import { once } from 'node:events';
import { connect } from 'node:net';

/**
 * A raw keep-alive client of a test's, asking `path` of a server listening on `port`: what has
 * arrived (`answer`, `received` bytes), and `ended` once its connection closes. A `paused` client
 * reads nothing until resumed: the answer waits in the buffers. Destroyed when `t` ends.
 */
export function rawClient(t: { teardown(fn: () => void): void }, port: number, path: string, options: { paused?: boolean } = {}) {
  const client = connect(port, '127.0.0.1');
  t.teardown(() => client.destroy());
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  if (options.paused === true) client.pause();
  const ended = once(client, 'close');
  client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return {
    client,
    answer: () => Buffer.concat(chunks).toString(),
    received: () => chunks.reduce((sum, c) => sum + c.length, 0),
    ended,
  };
}
