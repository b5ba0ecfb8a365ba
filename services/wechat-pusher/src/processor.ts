import { type ImClient, encodeRelayCustomData, textElem } from '@wxim/im';
import { type AgentSignal, type ReplyElement, type ReplyJob, UNCONFIRMED_REASON } from '@wxim/queue';
import { type Lease, type RateScope, type ReplicaCheck, type ReplyRecall, type WindowNotices, replyLineOf } from '@wxim/state';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import { type Attempt, type OrderedJobs, type OrderedJobsDeps, orderedJobs } from '@wxim/host';
import type { PusherMetrics } from './metrics.js';
import { type Delivery, type DeliveryDeps, deliver, deliveredSoFar, deliveryBegun } from './reply-delivery.js';
import { type Undelivered, markReason, noticeIds, noticeText, reasonText, sendNotice } from './notice.js';
import { type Confirmed, NotConfirmed, type ReplyConfirmation } from './reply-confirmation.js';
import type { DeliveryMarks } from './delivery-marks.js';
import { quoteOf } from './reply-plan.js';
import type { DeskCommands } from './desk-commands.js';
import type { ServiceLevels } from './service-levels.js';
import { ReplyWithdrawn } from './reply-withdrawn.js';
import { relayTyping } from './typing.js';
import { relayRecall, waitForUndo, withdrawal } from './undo.js';
import { replyDelivered } from './window-notices.js';
import { type ReplyOrderDeps, afterEarlierMessages } from './reply-order.js';

/** How far a reply got (see deliveredSoFar). */
type PartsSent = Awaited<ReturnType<typeof deliveredSoFar>>;

export interface PusherDeps extends Omit<DeliveryDeps, 'turn' | 'replicas'>, OrderedJobsDeps {
  /** REDIS_WAIT_REPLICAS: the job, and each part's `sending` mark, confirmed on the replicas before anything is sent; none when 0. */
  replicas?: Pick<ReplicaCheck, 'job' | 'confirm'>;
  /** Confirms a reply that came through a callback in IM's history first (CALLBACK_VERIFY=history); none when off. */
  confirmation?: ReplyConfirmation;
  /** Puts the agent's messages the confirming look showed sent just before a reply ahead of it (see afterEarlierMessages). */
  order: Pick<ReplyOrderDeps, 'line' | 'waitMs'>;
  redis: Redis | Cluster;
  im: ImClient;
  /** A call's turn under its platform's pace, confirming the job's lock. */
  turn: (scope: RateScope, lease?: Lease) => Promise<number>;
  metrics: PusherMetrics;
  /** The desk's commands, and who serves each customer now. */
  desk: DeskCommands;
  /** A delivered reply answers its customer: first-response time, and no first answer overdue. */
  levels: Pick<ServiceLevels, 'answered'>;
  /** REPLY_UNDO_MS: how long each reply waits for its agent's recall (0 or absent: not at all). */
  undoMs?: number;
  /** A WeChat call's turn only if the fleet's pace has room now: a typing indicator is skipped rather than delayed. */
  tryTurn: (api: string) => Promise<boolean>;
  /** The mark that WeChat shows a customer "typing…" (see typing.ts); a sent reply part clears it. */
  typingShownKey: (openid: string) => string;
  /** Records how each reply ended, for a later recall; decides a recall stored undecided (see undo.ts). */
  recall: Pick<ReplyRecall, 'withdraw' | 'ended' | 'endedAs'>;
  log: OrderedJobsDeps['log'] & { info(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  /** Marks each reply in IM queued, delivered or not delivered (DELIVERY_MARKS); none when off. */
  marks?: DeliveryMarks;
  /** A delivered reply answers the customer's window; its agent is told when it was the window's last. */
  windowNotices: Pick<WindowNotices, 'answered' | 'claimLastReply'>;
}

export type PushResult =
  | { outcome: 'delivered'; parts: number }
  | { outcome: 'noticed'; reason: string }
  /** An agent's command, run and answered to them; nothing went to the customer. */
  | { outcome: 'command'; command: string }
  /** A reply from an agent who no longer serves the customer: not delivered, the agent told who does. */
  | { outcome: 'not_theirs'; agent: string }
  | { outcome: 'not_agent'; agent: string }
  /** Recalled by its agent before any of it went: not delivered (the recall told the agent). */
  | { outcome: 'withdrawn' }
  /** An agent's typing or recall (see typing.ts, undo.ts): never a message to the customer. */
  | { outcome: 'signal'; signal: AgentSignal; result: string };

/**
 * The wechat-pusher's job: one agent reply delivered to its customer through WeChat, in the order
 * im-callback stored the customer's replies (see orderedJobs); or, when it cannot be, a notice back
 * to its agent in the same IM conversation saying why, and the job failed (visible on the dashboard).
 */
export function createPusher(deps: PusherDeps): OrderedJobs<ReplyJob, PushResult> {
  const { metrics, log } = deps;

  /** Tells the agent, quoting the reply as IM's history holds it (`body`). */
  async function notify(job: Job<ReplyJob>, body: ReplyElement[], failed: Extract<Delivery, { delivered: false }>, lease: Lease | undefined): Promise<boolean> {
    const { agent, userId, msgKey } = job.data;
    const text = noticeText(quoteOf(body), failed.why, { index: failed.part, of: failed.of });
    return sendNotice(
      () =>
        deps.im.sendC2C(
          {
            from: userId,
            to: agent,
            ...noticeIds(job.id!),
            body: [textElem(text)],
            cloudCustomData: encodeRelayCustomData({ source: 'relay-notice', replyTo: msgKey, reason: reasonText(failed.why) }),
          },
          { beforeSend: async (command) => (await deps.turn({ platform: 'im', command }, lease)) >= 0 },
        ),
      log,
      { jobId: job.id, agent, purpose: 'not-delivered' },
    );
  }

  /**
   * What to deliver: a reply that came through a callback only once IM's history shows its agent
   * sent it, and as the history holds it (the callback's signature covers nothing of its body).
   * Replies found in the history itself need no second look for that; with an undo time, one for a
   * recall made while they waited (its callback may have been lost as theirs was).
   */
  async function bodyToDeliver(job: Job<ReplyJob>, lease: Lease | undefined): Promise<Confirmed> {
    const { body, cloudCustomData } = job.data;
    const asStored = { body, ...(cloudCustomData === undefined ? {} : { cloudCustomData }) };
    if (deps.confirmation === undefined) return asStored;
    if (job.data.via !== 'callback') {
      if ((deps.undoMs ?? 0) > 0) await deps.confirmation.notRecalled({ id: job.id!, data: job.data }, lease);
      return asStored;
    }
    const confirmed = await deps.confirmation.confirm({ id: job.id!, data: job.data }, lease);
    if (JSON.stringify(confirmed.body) !== JSON.stringify(body))
      log.warn({ jobId: job.id, agent: job.data.agent }, "the callback's body is not what IM's history holds: the history's is delivered");
    return confirmed;
  }

  /** One attempt at a reply; `body` is kept for its last word once confirmed. */
  function attempt(job: Job<ReplyJob>, lease: Lease | undefined): Attempt<PushResult> {
    // Undefined until confirmed: nothing of an unconfirmed callback is ever quoted back to an agent,
    // nor is its message marked.
    let body: ReplyElement[] | undefined;
    let customData: string | undefined;
    // What this attempt delivers (the reply, or the canned text a command put in its place).
    let delivering: ReplyElement[] | undefined;
    // Set once this attempt knows the reply's fate: a failure after that (e.g. the notice) is not "queued".
    let settled: 'delivered' | 'not_delivered' | undefined;
    // A failed reply keeps its progress (its parts sent, if any); this tells a recall it ended. Not
    // recorded, a recall hears the customer may have it: never a false "stopped".
    const endedFailed = () =>
      deps.recall.ended(job.id!, 'failed').catch((e: Error) => log.warn({ jobId: job.id, reason: e.message }, "a failed reply's end was not recorded"));
    // Handed to the mark writer: the reply's line never waits for IM's answer (see DeliveryMarks).
    const mark = (state: 'delivered' | 'not_delivered', reason?: string) => deps.marks?.final({ id: job.id!, data: job.data }, state, customData, reason);
    async function run(): Promise<PushResult> {
      const withdrawn = await withdrawal(deps, job.id!);
      if (withdrawn !== undefined) throw new ReplyWithdrawn('recalled by its agent', withdrawn === 'after');
      await waitForUndo({ undoMs: deps.undoMs ?? 0 }, job, lease);
      // A reply only a primary being replaced holds would vanish with it, and be found again on
      // the new primary (IM's history, by the sweep or a gap's recovery) and delivered twice.
      await deps.replicas?.job(lease);
      const confirmed = await bodyToDeliver(job, lease);
      if (confirmed.first !== undefined)
        await afterEarlierMessages({ ...deps.order, log, counted: (outcome, n) => metrics.replyOrder.inc({ outcome }, n) }, job, confirmed.first, lease);
      body = confirmed.body;
      customData = confirmed.cloudCustomData;
      // From an account that is not one of IM_AGENTS (an agent removed since, a supervisor, a
      // colleague of another team): never delivered, nor run as a command; its sender is told.
      if (!deps.desk.isAgent(job.data.agent)) {
        settled = 'not_delivered';
        const text = `⚠ Relay notice — your message “${quoteOf(body)}” was not delivered: only the relay's agents (IM_AGENTS) write to its customers.`;
        await deps.desk.tell(job, job.data.agent, 'not-agent', text, lease);
        await mark('not_delivered', "not one of the relay's agents");
        metrics.replies.inc({ outcome: 'not_agent', via: job.data.via });
        log.warn(
          { jobId: job.id, agent: job.data.agent },
          'a message to a customer from an account that is not one of IM_AGENTS was not delivered; its sender was told',
        );
        return { outcome: 'not_agent', agent: job.data.agent };
      }
      const handled = await deps.desk.handle(job, body, lease);
      if ('handled' in handled) {
        metrics.replies.inc({ outcome: 'command', via: job.data.via });
        return { outcome: 'command', command: handled.handled };
      }
      // After a /transfer the customer's replies come from their new agent: the old agent's are not
      // delivered. But a reply some of whose parts have gone is finished, whoever took the customer
      // since (the first-response check may hand them on between two attempts): the customer has
      // its beginning, and its agent is never told it was not delivered.
      let serving = await deps.desk.handedOnBy(job.data.openid, job.data.agent, job.data.msgTime);
      if (serving !== undefined && (await deliveryBegun(deps.redis, deps.progressKey(job.id!)))) serving = undefined;
      if (serving !== undefined) {
        settled = 'not_delivered';
        const text = `⚠ Relay notice — your reply “${quoteOf(body)}” was not delivered: this customer is now with ${serving}.`;
        await deps.desk.tell(job, job.data.agent, 'not-theirs', text, lease);
        await mark('not_delivered', `this customer is now with ${serving}`);
        metrics.replies.inc({ outcome: 'not_theirs', via: job.data.via });
        return { outcome: 'not_theirs', agent: serving };
      }
      // A later attempt (the notice failed, a crash) delivers again what is not sent yet: parts
      // WeChat confirmed are skipped, parts that may have arrived are reported, never resent.
      delivering = handled.deliver;
      const result = await deliver(
        { id: job.id!, data: { ...job.data, body: delivering } },
        { ...deps, turn: (api) => deps.turn({ platform: 'wechat', api }, lease), ...(lease === undefined ? {} : { lease }) },
      );
      settled = result.delivered ? 'delivered' : 'not_delivered';
      if (result.delivered) {
        metrics.replies.inc({ outcome: 'delivered', via: job.data.via });
        // From when it may go: a reply held for its REPLY_UNDO_MS on purpose is not late for it.
        metrics.latency.observe(Math.max(0, Date.now() - job.data.acceptedAt - (deps.undoMs ?? 0)) / 1000);
        await deps.levels.answered(job.data.openid, job.data.agent, job.data.msgTime * 1000);
        // After every part went, never before: handing the mark over costs the customer nothing.
        await mark('delivered');
        await replyDelivered(job, lease, { notices: deps.windowNotices, desk: deps.desk });
        return { outcome: 'delivered', parts: result.parts };
      }
      // The notice first: it is what the agent sees by default; the mark is for clients that show it.
      const told = await notify(job, body, result, lease);
      await mark('not_delivered', markReason(result.why, { index: result.part, of: result.of }));
      const reason = reasonText(result.why);
      metrics.replies.inc({ outcome: result.why.kind === 'uncertain' ? 'uncertain' : 'undelivered', via: job.data.via });
      log.warn({ jobId: job.id, agent: job.data.agent, reason }, told ? 'reply not delivered; its agent was told' : 'reply not delivered');
      throw new UnrecoverableError(`not delivered, ${told ? 'agent notified' : 'the conversation is gone from IM'}: ${reason}`);
    }
    return {
      run: async () => {
        let result: PushResult;
        try {
          result = await run();
        } catch (err) {
          if (err instanceof ReplyWithdrawn) {
            // Completes: nothing went, nothing failed. The recall's own job told the agent, unless
            // it told them it was too late and WeChat then refused the reply: that is put right.
            // Told again on each attempt until IM takes it (fixed ids: IM drops a repeat); the job
            // retries meanwhile, so an IM hiccup never leaves the agent with "too late".
            if (err.afterAll) {
              const quoted = body === undefined ? '' : `, “${quoteOf(body)}”,`;
              const text = `↩ Relay notice — the message you recalled${quoted} was not delivered after all: WeChat refused it, and the relay will not send it again. The customer does not have it.`;
              await deps.desk.tell(job, job.data.agent, 'recall-stopped-after-all', text, lease);
            }
            metrics.replies.inc({ outcome: 'withdrawn', via: job.data.via });
            log.info({ jobId: job.id, agent: job.data.agent, reason: err.message }, 'reply not delivered: its agent recalled it');
            result = { outcome: 'withdrawn' };
          } else if (err instanceof NotConfirmed) {
            // Not its agent's: nobody to tell in IM (the agent named never wrote it); the failed job and the warning show it.
            metrics.replies.inc({ outcome: 'unconfirmed', via: job.data.via });
            log.warn(
              { jobId: job.id, agent: job.data.agent, userId: job.data.userId, reason: err.message },
              'reply not delivered: not confirmed in IM history',
            );
            await endedFailed();
            throw new UnrecoverableError(`${UNCONFIRMED_REASON}: ${err.message}`);
          } else {
            // Failing for good without a retry (e.g. not delivered, its agent told): see failedForGood for the rest.
            if (err instanceof UnrecoverableError) await endedFailed();
            throw err;
          }
        }
        // Before the job completes and its progress goes: a later recall reads how it ended here,
        // not in the job, which retention removes. Should this fail, the next attempt sends nothing again.
        await deps.recall.ended(job.id!, result.outcome);
        return result;
      },
      failedForGood: async (err) => {
        await endedFailed();
        const where = await partsSent(job, delivering ?? body);
        if (settled === 'delivered' || where.part >= where.of) {
          // Every part went; what failed came after (e.g. the reply window's bookkeeping): the customer has it.
          log.warn(
            { jobId: job.id, agent: job.data.agent, reason: err.message },
            'a reply delivered in full failed for good afterwards: its agent is not told otherwise',
          );
          return;
        }
        await lastWord(job, lease, body, where, givenUp(job, err, where));
        if (body !== undefined) await mark('not_delivered', markReason(givenUp(job, err, where), { index: where.part, of: where.of }));
      },
      // Queued only when a reply cannot go at once — its attempt failed and it waits for the next —
      // and only a confirmed one: a reply that goes at once costs one mark, not two.
      willRetry: async () => {
        if (body !== undefined && settled === undefined) await deps.marks?.queued({ id: job.id!, data: job.data }, customData, lease);
      },
    };
  }

  /**
   * Where a reply whose attempts ran out stopped: the part not delivered, of how many (the parts
   * before it went). The whole reply when it never reached its delivery, or its progress cannot be read.
   */
  async function partsSent(job: Job<ReplyJob>, delivering: ReplyElement[] | undefined): Promise<PartsSent> {
    if (delivering === undefined) return { part: 0, of: 1, uncertain: false };
    return deliveredSoFar(deps.redis, deps.progressKey(job.id!), delivering).catch((e: Error) => {
      log.warn({ jobId: job.id, reason: e.message }, "a failed reply's progress could not be read: it is reported as not delivered at all");
      return { part: 0, of: 1, uncertain: false };
    });
  }

  /** A reply that failed for good after its retries: its agent is told too, if IM can be reached. */
  async function lastWord(job: Job<ReplyJob>, lease: Lease | undefined, body: ReplyElement[] | undefined, where: PartsSent, why: Undelivered): Promise<void> {
    if (body === undefined) {
      // Never confirmed (IM unreachable all along): its agent may never have written it.
      log.warn({ jobId: job.id, agent: job.data.agent }, "a reply that was never confirmed in IM's history failed for good: nobody is told in IM");
      return;
    }
    try {
      await notify(job, body, { delivered: false, why, ...where }, lease);
    } catch (notified) {
      log.error({ jobId: job.id, reason: (notified as Error).message }, 'the agent could not be told either; the failed job shows it');
    }
  }

  /**
   * A reply BullMQ failed itself (its process died or froze on it more than maxStalledCount times,
   * e.g. killed for its memory on each try): its agent is told as for one whose attempts ran out,
   * from what its progress holds: the body IM's history confirmed (none: nobody is told, as then)
   * and how far it got. A desk command is only logged.
   */
  async function failedByQueue(job: Job<ReplyJob>): Promise<void> {
    if (job.data.signal !== undefined) return;
    try {
      // Recalled by its agent (who heard what became of it then): nothing more to say.
      if ((await withdrawal(deps, job.id!)) !== undefined) return;
      await deps.recall.ended(job.id!, 'failed');
      const [confirmed, confirmedData] = await deps.redis.hmget(deps.progressKey(job.id!), 'confirmed', 'confirmedData');
      const confirming = deps.confirmation !== undefined && job.data.via === 'callback';
      const body = !confirming ? job.data.body : confirmed == null ? undefined : (JSON.parse(confirmed) as ReplyElement[]);
      const delivering = body === undefined ? undefined : deps.desk.deliverable(body);
      if (body !== undefined && delivering === undefined) {
        log.warn({ jobId: job.id, agent: job.data.agent }, 'a desk command failed by the queue: its agent is not told');
        return;
      }
      const where = await partsSent(job, delivering);
      if (body !== undefined && where.part >= where.of) return;
      const why: Undelivered = where.uncertain
        ? { kind: 'uncertain' }
        : { kind: 'gave_up', reason: 'the relay stopped while handling it too many times in a row (its process died or froze), so it is not tried again' };
      await lastWord(job, undefined, body, where, why);
      const customData = confirming ? (confirmedData ?? undefined) : job.data.cloudCustomData;
      if (body !== undefined)
        await deps.marks?.final({ id: job.id!, data: job.data }, 'not_delivered', customData, markReason(why, { index: where.part, of: where.of }));
    } catch (err) {
      log.error({ jobId: job.id, reason: (err as Error).message }, 'a reply failed by the queue: its agent could not be told');
    }
  }

  /** Why a reply whose attempts ran out was not delivered: its last part on its way may have arrived all the same. */
  function givenUp(job: Job<ReplyJob>, err: Error, where: PartsSent): Undelivered {
    if (where.uncertain) return { kind: 'uncertain' };
    return { kind: 'gave_up', reason: `it could not be delivered after ${job.attemptsMade + 1} attempts (${err.message})` };
  }

  return orderedJobs<ReplyJob, PushResult>(deps, {
    // A signal takes no turn: it never waits for, holds up or reorders the customer's replies.
    lineOf: (job) => replyLineOf(job.data),
    failedByQueue,
    outOfLine: async (job) => {
      const signal = job.data.signal!;
      const result =
        signal === 'recall'
          ? await relayRecall(job, {
              recall: deps.recall,
              wake: deps.wake,
              tell: (...a) => deps.desk.tell(...a),
              // Its progress, or once the reply has ended (its progress gone with it), its end.
              withdrawnNow: async (replyId) => (await withdrawal(deps, replyId)) !== undefined || (await deps.recall.endedAs(replyId)) === 'withdrawn',
            })
          : await relayTyping(job, {
              redis: deps.redis,
              keys: { typingShown: deps.typingShownKey },
              wechat: deps.wechat,
              window: deps.window,
              tryTurn: deps.tryTurn,
              log,
            });
      metrics.signals.inc({ signal, outcome: result });
      return { outcome: 'signal', signal, result };
    },
    attempt,
    words: {
      willRetry: 'reply will be retried',
      failedForGood: 'reply failed for good',
      retried: (decisionClass) => metrics.retries.inc({ class: decisionClass }),
      // A signal (typing, a recall) failed by the queue is no reply.
      failed: (job) =>
        job.data.signal === undefined
          ? metrics.replies.inc({ outcome: 'failed', via: job.data.via })
          : metrics.signals.inc({ signal: job.data.signal, outcome: 'failed' }),
    },
  });
}
