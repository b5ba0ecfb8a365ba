import { type ImClient, ImNotImportedError, ImPermanentError, encodeRelayCustomData, textElem } from '@wxim/im';
import type { FleetLock, HeldLock, RateScope, StateKeys, WatchedWindow, WindowNotices } from '@wxim/state';
import type { Cluster, Redis } from 'ioredis';
import { FleetCheck } from '@wxim/host';
import type { Counter } from 'prom-client';
import { noticeIds } from './notice.js';
import { WINDOW_NOTICE_REASONS, closingText } from './window-notices.js';

/** How many closing windows one check takes up: the rest wait for the next. */
const BATCH = 100;

export interface WindowWarningCheckDeps {
  /** Counts each check run here (see FleetCheckOptions.ran). */
  ran?: (outcome: 'done' | 'failed') => void;
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  notices: WindowNotices;
  /** WINDOW_WARNING_MS. */
  warningMs: number;
  /** Where the agents' clocks are (BUSINESS_TZ), for the time a window closes. */
  timeZone: string;
  /** How often an instance looks whether a warning is due. */
  everyMs: number;
  /** The fleet's one check at a time. */
  lock: FleetLock;
  /** An IM call's turn under the fleet's pace. */
  turn: (scope: RateScope) => Promise<number>;
  /** Warnings by outcome: warned; refused (IM refused it for good: not tried again); failed (tried again next check). */
  warnings: Counter<'outcome'>;
  log: { warn(o: object, m: string): void };
}

/**
 * WINDOW_WARNING_MS: the agent serving a customer is told, once, when the customer's reply window
 * closes within that time and their last message is still unanswered. The im-worker watches each
 * window whose message it relayed, the pusher unwatches it when it delivers a reply; here one
 * instance of the fleet at a time looks for the windows closing soon. The warning is claimed
 * before it is sent and unwatched after: a check that stops between the two leaves it to the next,
 * which sends it again with the same ids (IM drops the repeat).
 */
export class WindowWarningCheck extends FleetCheck<number> {
  constructor(private readonly deps: WindowWarningCheckDeps) {
    super({ everyMs: deps.everyMs, lock: deps.lock, what: 'the reply-window check', log: deps.log, ...(deps.ran === undefined ? {} : { ran: deps.ran }) });
  }

  /** The agents warned now. */
  protected async check(held: HeldLock): Promise<number> {
    let warned = 0;
    for (const w of await this.deps.notices.closingSoon(Date.now(), this.deps.warningMs, BATCH)) {
      await held.keep();
      // One window's warning that fails never holds up the others'.
      try {
        if (await this.warn(w)) warned++;
      } catch (err) {
        await this.failed(w, err);
      }
    }
    return warned;
  }

  private async warn(w: WatchedWindow): Promise<boolean> {
    const { redis, keys, notices } = this.deps;
    const [agent, counted, userId] = await redis.hmget(keys.customer(w.openid), 'agent', 'counted', 'userId');
    // Nobody serves the customer now (the conversation closed): nobody to tell.
    if (agent == null || counted === '0' || userId == null) {
      await notices.warned(w);
      return false;
    }
    if (!(await notices.claimWarning(w, Date.now()))) return false;
    await this.deps.im.sendC2C(
      {
        from: userId,
        to: agent,
        // Fixed per window: a warning sent again after a stop is dropped by IM.
        ...noticeIds(`${WINDOW_NOTICE_REASONS.closing}:${w.openid}:${w.deadline}`),
        body: [textElem(closingText(w.deadline, this.deps.timeZone))],
        cloudCustomData: encodeRelayCustomData({ source: 'relay-notice', replyTo: '', reason: WINDOW_NOTICE_REASONS.closing }),
      },
      { beforeSend: async (command) => (await this.deps.turn({ platform: 'im', command })) >= 0 },
    );
    await notices.warned(w);
    this.deps.warnings.inc({ outcome: 'warned' });
    return true;
  }

  /**
   * A warning IM refused for good (the customer's or the agent's account deleted, a message it
   * will never take) is not tried again: the window is unwatched. Any other failure (IM busy or
   * unreachable, Redis) leaves it watched, and its claim taken, for the next check to send again.
   */
  private async failed(w: WatchedWindow, err: unknown): Promise<void> {
    const refused = err instanceof ImPermanentError || err instanceof ImNotImportedError;
    this.deps.warnings.inc({ outcome: refused ? 'refused' : 'failed' });
    // IM's errors never carry the URL (its UserSig); neither does this line.
    const code = (err as { code?: unknown }).code;
    this.deps.log.warn(
      { openid: w.openid, code, reason: (err as Error).message },
      refused ? 'IM refused a closing-window warning: it is not sent' : 'a closing-window warning could not be sent; the next check tries again',
    );
    if (refused) await this.deps.notices.warned(w).catch(() => undefined);
  }
}
