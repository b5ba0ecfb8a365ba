import { createHash } from 'node:crypto';
import { relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

/** WeChat takes a push's timestamp within this many seconds of now, either side (see verifyRequest). */
const WINDOW_S = 300;
/** How long a push waits for the connection at start before it is answered 503 (WeChat then asks again). */
const CONNECT_WAIT_MS = 1000;

/**
 * WeChat signs a plain (unencrypted) push's address, not its body: `signature` covers the token,
 * timestamp and nonce only. Whoever reads one such address (an ingress's access log keeps query
 * strings) could post any body under it while its timestamp is fresh. Each address is therefore
 * bound to the first thing it carried, for as long as its timestamp is taken: a push with the same
 * body again (WeChat's retry) is taken, another body under it is not. About 100 bytes a plain push
 * for up to 5 minutes. Encrypted pushes need none of this: `msg_signature` covers the body.
 */
export class PushAddresses {
  private readonly redis;

  constructor(
    private readonly connection: Redis | Cluster,
    private readonly keys: Pick<StateKeys, 'pushAddress'>,
  ) {
    this.redis = relayScripts(connection);
  }

  /** Until the connection is up (a push right after start waits for it, as the store does), or refused. */
  private async connected(): Promise<void> {
    const c = this.connection;
    if (c.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        c.off('ready', done);
        c.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, CONNECT_WAIT_MS);
      c.once('ready', done);
      c.once('error', done);
    });
  }

  /**
   * Whether the address (`timestamp`, `nonce`, as verified) may carry `use` (a push's body, or a
   * verification's echo): its first use, or the same again.
   */
  async claim(timestamp: string, nonce: string, use: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<boolean> {
    const digest = createHash('sha256').update(use).digest('base64url').slice(0, 22);
    const keptS = Math.max(1, Number(timestamp) + WINDOW_S - nowSeconds + 1);
    await this.connected();
    return (await this.redis.wximPushAddressOnce(this.keys.pushAddress(timestamp, nonce), digest, keptS)) === 1;
  }
}
