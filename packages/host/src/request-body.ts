import type { IncomingMessage } from 'node:http';

/**
 * A request's body read whole, or `undefined` as soon as it runs over `maxBytes`. Over the limit
 * the request is left unread, not destroyed: the server can still answer it (413, with
 * `connection: close`, after which Node closes the socket), where destroying the request would
 * reset the connection and the client would read no answer at all, as with a chunked body that
 * gives no Content-Length to refuse it by up front. Rejects when the body breaks off.
 */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) return void chunks.push(chunk);
      stop();
      req.pause();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => onError(new Error('the request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
