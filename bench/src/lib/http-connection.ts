import { type Socket, connect } from 'node:net';

/**
 * One keep-alive HTTP/1.1 connection that sends prebuilt requests, one at a time, and reads back
 * only what a load generator needs: the status code and the end of the body. It is the
 * benchmark's own client, kept lean so that the generator takes as little of the shared CPU as
 * it can. Answers must carry Content-Length (Fastify's do); chunked answers are not supported.
 */
export class HttpConnection {
  private socket?: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (status: number) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Resolves with the status code once the whole answer has arrived. */
  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = this.connected();
      const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting = { resolve, reject, timer };
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connected(): Socket {
    if (this.socket !== undefined) return this.socket;
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      // Only the current socket's end concerns the request in flight ('close' follows 'error').
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.buffered = Buffer.alloc(0);
      this.settle()?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    this.socket = socket;
    return socket;
  }

  private settle() {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) clearTimeout(waiting.timer);
    return waiting;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const headEnd = this.buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.buffered.toString('latin1', 0, headEnd);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (length === null) {
        this.socket?.destroy(new Error('answer without content-length'));
        return;
      }
      const end = headEnd + 4 + Number(length[1]);
      if (this.buffered.length < end) return;
      this.buffered = this.buffered.subarray(end);
      this.settle()?.resolve(Number(head.slice(9, 12)));
    }
  }
}

/** The bytes of one POST, built once before the measurement starts. */
export function postRequest(host: string, path: string, body: string, contentType: string): Buffer {
  const payload = Buffer.from(body);
  const head = `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: ${contentType}\r\ncontent-length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}
