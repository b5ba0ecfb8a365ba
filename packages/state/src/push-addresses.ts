import { createHash } from 'node:crypto';
import { GATEWAY_CLOCK_MARGIN_S, InOrderWhileAway, whenConnected } from '@wxim/queue';
import { relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

/** WeChat takes a push's timestamp within this many seconds of now, either side (see verifyRequest). */
const WINDOW_S = 300;
/** How long a binding may take by default, the connection's start included, before the push is answered 503 (the gateway gives it what is left of the store's budget). */
const BUDGET_MS = 1000;

/**
 * WeChat signs a plain (unencrypted) push's address, not its body: `signature` covers the token,
 * timestamp and nonce only. Whoever reads one such address (an ingress's access log keeps query
 * strings) could post any body under it while its timestamp is fresh. Each address is therefore
 * bound to the first thing it carried, for as long as any gateway takes its timestamp: a push with the same
 * body again (WeChat's retry) is taken, another body under it is not. About 100 bytes a plain push
 * for up to 12 minutes (a timestamp may be 5 minutes ahead). Encrypted pushes need none of this: `msg_signature` covers the body.
 */
export class PushAddresses {
  private readonly redis;
  /** A push that comes while an earlier one waits to bind its address again (Redis away) binds after it: a customer's next message is not stored first. */
  private readonly inOrder = new InOrderWhileAway();

  constructor(
    private readonly connection: Redis | Cluster,
    private readonly keys: Pick<StateKeys, 'pushAddress'>,
    /** Told of each try again because Redis was away (a counter). */
    private readonly retrying: () => void = () => {},
  ) {
    this.redis = relayScripts(connection);
  }

  /**
   * Whether the address (`timestamp`, `nonce`, as verified) may carry `use` (a push's body, or a
   * verification's echo): its first use, or the same again. Throws when Redis did not answer within
   * `budgetMs`, tried again a few times a second while Redis is away (a restart, a failover); a
   * binding that lands after that binds the same `use`, so WeChat's retry is taken.
   */
  async claim(timestamp: string, nonce: string, use: string, budgetMs = BUDGET_MS, nowSeconds = Math.floor(Date.now() / 1000)): Promise<boolean> {
    const digest = createHash('sha256').update(use).digest('base64url').slice(0, 22);
    // As long as any gateway of the fleet takes the timestamp: one whose clock is behind this one's
    // (within the margin the push's dedupe allows for) takes it that much longer.
    const keptS = Math.max(1, Number(timestamp) + WINDOW_S + GATEWAY_CLOCK_MARGIN_S - nowSeconds + 1);
    const deadline = Date.now() + budgetMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`no answer within ${budgetMs} ms`)), budgetMs)));
    try {
      return await Promise.race([
        this.inOrder.run(
          deadline,
          async () => {
            // A push right after start waits for the connection, as the store does.
            await whenConnected(this.connection, deadline - Date.now());
            return (await this.redis.wximPushAddressOnce(this.keys.pushAddress(timestamp, nonce), digest, keptS)) === 1;
          },
          this.retrying,
        ),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
