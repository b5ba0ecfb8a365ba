import {
  type ImClient,
  ImNotImportedError,
  ImPermanentError,
  type RoamMessage,
  decodeRelayCustomData,
  encodeRelayCustomData,
  isRecalled,
  textElem,
} from '@wxim/im';
import type { ReplyElement, ReplyJob } from '@wxim/queue';
import { type DeskPresence, type Lease, LockLostError, type RateScope, type StateKeys } from '@wxim/state';
import { relayScripts } from '@wxim/redis-scripts';
import type { Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import { type AgentCommand, COMMAND_HELP, parseCommand, unescapeReply } from './agent-command.js';
import { type CsatAsked, type CsatQuestion, csatNote } from './csat.js';
import { noticeIds, sendNotice } from './notice.js';
import { ReplyWithdrawn } from './reply-withdrawn.js';
import { closeConversation } from './desk-close.js';
import { PROGRESS_TTL_MS } from './reply-delivery.js';
import type { ServiceLevels } from './service-levels.js';

/** How much of the conversation the agent taking it over is shown. */
const HISTORY_MESSAGES = 10;
const HISTORY_LOOKBACK_S = 48 * 3600;

export interface DeskCommandDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  /** IM_AGENTS. */
  agents: readonly string[];
  /** AGENT_MAX_OPEN. */
  maxOpen: number;
  /** CANNED_REPLIES, by code. */
  cannedReplies: ReadonlyMap<string, string>;
  /** Wakes the customers waiting longest when a place frees. */
  presence: Pick<DeskPresence, 'wakeWaiting'>;
  /** An IM call's turn under the fleet's pace, confirming the job's lock. */
  turn: (scope: RateScope, lease?: Lease) => Promise<number>;
  /** Commands run, by command and outcome (done; refused: not the agent's customer, nobody free, a bad argument). */
  commands: Counter<'command' | 'outcome'>;
  /** The rating question after /close (CSAT_TEXT); none when unset. */
  csat?: CsatQuestion;
  /** First-response and resolution times, and hand-overs by cause. */
  levels: ServiceLevels;
  log: { warn(obj: object, msg: string): void };
}

/** What a reply becomes: delivered as it is (maybe unescaped or replaced by a canned text), or handled here and not delivered. */
export type Handled = { deliver: ReplyElement[] } | { handled: string };

/** The text of a reply made of one text element, if it is. */
function soleText(body: readonly ReplyElement[]): string | undefined {
  const [only, ...rest] = body;
  if (only === undefined || rest.length > 0 || only.MsgType !== 'TIMTextElem') return undefined;
  const text = only.MsgContent['Text'];
  return typeof text === 'string' ? text : undefined;
}

/** Whether a message of the history is an agent's command: a customer's text that reads like one is what they wrote. */
function isCommand(m: RoamMessage, customer: string): boolean {
  if (m.From_Account === customer) return false;
  const text = soleText(m.MsgBody);
  return text !== undefined && parseCommand(text) !== undefined;
}

/** One message of the history as the agent taking over reads it. */
function historyLine(m: RoamMessage, customer: string): string {
  const who = m.From_Account === customer ? 'Customer' : m.From_Account;
  const parts = m.MsgBody.map((e) =>
    e.MsgType === 'TIMTextElem' && typeof e.MsgContent['Text'] === 'string' ? e.MsgContent['Text'] : `[${e.MsgType.replace(/^TIM|Elem$/g, '').toLowerCase()}]`,
  );
  const text = parts.join(' ');
  return `${who}: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
}

/**
 * The desk's commands, typed by agents in the IM client and never delivered to the customer (see
 * AgentCommand): each is answered to the agent with a relay notice in the conversation. Run in the
 * customer's reply line, so a command acts after the replies the agent sent before it.
 */
export class DeskCommands {
  constructor(private readonly deps: DeskCommandDeps) {}

  /** What becomes of a reply: a command is run (or a canned reply looked up); any other reply is delivered. */
  async handle(job: Job<ReplyJob>, body: ReplyElement[], lease: Lease | undefined): Promise<Handled> {
    const text = soleText(body);
    const command = text === undefined ? undefined : parseCommand(text);
    if (command === undefined) return { deliver: this.deliverable(body)! };
    return this.run(job, command, lease);
  }

  /**
   * What a reply delivers to the customer, without running anything (as `handle` would deliver it):
   * the reply itself, `//text` unescaped, a canned reply's text; undefined for a command that
   * delivers nothing (or a canned code not set up).
   */
  deliverable(body: ReplyElement[]): ReplyElement[] | undefined {
    const text = soleText(body);
    if (text === undefined) return body;
    const command = parseCommand(text);
    if (command === undefined) return text.startsWith('//') ? [textElem(unescapeReply(text))] : body;
    const reply = command.name === 'canned' && command.code !== undefined ? this.deps.cannedReplies.get(command.code) : undefined;
    return reply === undefined ? undefined : [textElem(reply)];
  }

  /** Whether `account` is one of IM_AGENTS. */
  isAgent(account: string): boolean {
    return this.deps.agents.includes(account);
  }

  /**
   * Who serves the customer now, when `agent` handed them on (a /transfer, or a first answer
   * overdue) and does not serve them again: that agent's replies sent since (`msgTime`, IM's
   * seconds) are not delivered. Undefined otherwise — a reply they sent before their last hand-on
   * (its callback late, or lost and found by the sweep) is still theirs, and any other agent of
   * IM_AGENTS may still answer a customer (a colleague stepping in).
   */
  async handedOnBy(openid: string, agent: string, msgTime: number): Promise<string | undefined> {
    const [serving, handed, at] = await this.deps.redis.hmget(this.deps.keys.customer(openid), 'agent', 'handedOn', 'handedOnAt');
    if (serving == null || serving === agent || handed == null || !handed.split(',').includes(agent)) return undefined;
    // The last time this agent handed the customer on (a release before kept none: not delivered, as then).
    const keptBefore = (at ?? '')
      .split(',')
      .filter((entry) => entry.startsWith(`${agent}=`))
      .map((entry) => Number(entry.slice(agent.length + 1)))
      .at(-1);
    return keptBefore !== undefined && msgTime * 1000 < keptBefore ? undefined : serving;
  }

  /** Tells `agent`, in the customer's conversation, as a relay notice (`purpose` keeps each notice of a job apart, so IM drops one sent twice). */
  async tell(job: Job<ReplyJob>, agent: string, purpose: string, text: string, lease: Lease | undefined): Promise<void> {
    await sendNotice(
      () =>
        this.deps.im.sendC2C(
          {
            from: job.data.userId,
            to: agent,
            ...noticeIds(`${job.id}:${purpose}`),
            body: [textElem(text)],
            cloudCustomData: encodeRelayCustomData({ source: 'relay-notice', replyTo: job.data.msgKey, reason: purpose }),
          },
          { beforeSend: async (command) => (await this.deps.turn({ platform: 'im', command }, lease)) >= 0 },
        ),
      this.deps.log,
      { jobId: job.id, agent, purpose },
    );
  }

  /**
   * Tells the agent once per command and purpose: a retry of the command skips what it told (kept in
   * its progress). A notice IM refuses for good (a quoted customer text it will not take) is logged
   * and left, as told: what the command did stands, and failing it would tell its agent it was not
   * done. Resolves to IM's code when it refused, on this attempt or an earlier one.
   */
  private async tellOnce(
    job: Job<ReplyJob>,
    agent: string,
    purpose: string,
    lease: Lease | undefined,
    text: () => Promise<string>,
  ): Promise<number | undefined> {
    const progress = this.deps.keys.replyProgress(job.id!);
    const field = `told:${purpose}`;
    const told = await this.deps.redis.hget(progress, field);
    if (told !== null) return told.startsWith('refused:') ? Number(told.slice('refused:'.length)) : undefined;
    // Made before the send: only IM's answer to the notice itself is a refusal of it.
    const said = await text();
    let refused: number | undefined;
    try {
      await this.tell(job, agent, purpose, said, lease);
    } catch (err) {
      if (!(err instanceof ImPermanentError)) throw err;
      refused = err.code;
      this.deps.log.warn({ jobId: job.id, agent, purpose, code: err.code, reason: err.message }, 'IM refused a relay notice for good: it is not sent');
    }
    await this.deps.redis
      .multi()
      .hset(progress, field, refused === undefined ? '1' : `refused:${refused}`)
      .pexpire(progress, PROGRESS_TTL_MS)
      .exec();
    return refused;
  }

  private async run(job: Job<ReplyJob>, command: AgentCommand, lease: Lease | undefined): Promise<Handled> {
    const { agent } = job.data;
    const count = (outcome: 'done' | 'refused') => this.deps.commands.inc({ command: command.name, outcome });
    switch (command.name) {
      case 'help':
        await this.tell(job, agent, 'help', `ℹ Relay commands:\n${COMMAND_HELP}`, lease);
        count('done');
        return { handled: 'help' };
      case 'malformed':
        await this.tell(
          job,
          agent,
          'malformed',
          `⚠ Relay notice — ${command.command} was not understood: expected ${command.expected}. Nothing was sent to the customer. /help lists the commands.`,
          lease,
        );
        count('refused');
        return { handled: 'malformed' };
      case 'canned':
        return this.canned(job, command.code, lease, count);
      case 'close':
        return this.close(job, lease, count);
      case 'transfer':
        return this.transfer(job, command.to, lease, count);
    }
  }

  private async canned(job: Job<ReplyJob>, code: string | undefined, lease: Lease | undefined, count: (o: 'done' | 'refused') => void): Promise<Handled> {
    const { cannedReplies } = this.deps;
    const reply = code === undefined ? undefined : cannedReplies.get(code);
    if (reply !== undefined) {
      count('done');
      return { deliver: [textElem(reply)] };
    }
    const list =
      cannedReplies.size === 0
        ? 'none are set up (CANNED_REPLIES)'
        : [...cannedReplies].map(([c, t]) => `${c}: ${t.length > 60 ? `${t.slice(0, 60)}…` : t}`).join('\n');
    const head = code === undefined ? 'ℹ Canned replies (/r <code>):' : `⚠ Relay notice — there is no canned reply "${code}"; nothing was sent. The codes:`;
    await this.tell(job, job.data.agent, 'canned', `${head}\n${list}`, lease);
    count(code === undefined ? 'done' : 'refused');
    return { handled: 'canned' };
  }

  private async close(job: Job<ReplyJob>, lease: Lease | undefined, count: (o: 'done' | 'refused') => void): Promise<Handled> {
    const { keys } = this.deps;
    const { openid, agent } = job.data;
    const [outcome, before, resolutionMs] = await closeConversation(this.deps.redis, keys, openid, agent, job.id!);
    if (outcome === 'withdrawn') throw new ReplyWithdrawn('its agent recalled the /close before it acted');
    if (outcome === 'not_open') return this.notOpen(job, 'close', lease, count);
    if (outcome !== 'closed') return this.notYours(job, 'close', before, lease, count);
    // The time from the conversation's start, by the attempt that closed it (a retried /close does
    // not touch the conversation the customer's next message may have opened since).
    if (before !== 'before') this.deps.levels.resolved(resolutionMs ?? -1);
    // Also on a retry of a /close that closed before (a crash before this wake): a wake with nobody
    // asleep changes nothing, and the place freed must not wait for the customer's next look.
    await this.deps.presence.wakeWaiting(1);
    // Asked once, by the attempt that first gets this far (its mark kept with the command's
    // progress): a /close retried after it asked (a crash before its notice) does not ask again, and
    // one that failed after it closed but before it asked (Redis) still asks. An attempt that lost
    // its lock before the question went takes its mark back for the attempt that has the job.
    const progress = keys.replyProgress(job.id!);
    const asking = this.deps.csat !== undefined && (await this.deps.redis.hsetnx(progress, 'csatAsked', '1')) === 1;
    let rating: CsatAsked | undefined;
    try {
      rating = asking ? await this.deps.csat!.ask(openid, agent, lease) : undefined;
    } catch (err) {
      if (err instanceof LockLostError) await this.deps.redis.hdel(progress, 'csatAsked').catch(() => undefined);
      throw err;
    }
    await this.tell(job, agent, 'close', `✓ Conversation closed. The customer’s next message starts a new one.${csatNote(rating)}`, lease);
    count('done');
    return { handled: 'close' };
  }

  private async transfer(job: Job<ReplyJob>, to: string | undefined, lease: Lease | undefined, count: (o: 'done' | 'refused') => void): Promise<Handled> {
    const { keys, agents } = this.deps;
    const { openid, agent } = job.data;
    if (to !== undefined && !agents.includes(to)) {
      await this.tell(job, agent, 'transfer', `⚠ Relay notice — ${to} is not one of the agents (${agents.join(', ')}); the customer stays with you.`, lease);
      count('refused');
      return { handled: 'transfer' };
    }
    const [outcome, other] = await relayScripts(this.deps.redis).wximDeskTransfer(
      keys.customer(openid),
      keys.agentLoad,
      keys.agentState,
      keys.deskActive,
      keys.agentLastAssigned,
      keys.replyProgress(job.id!),
      keys.deskLoadsOwn,
      keys.carriedLoad,
      keys.carriedLoadsOwn,
      openid,
      agent,
      to ?? '',
      String(this.deps.maxOpen),
      // The agent's replies IM dates in an earlier second than the command are still theirs.
      String(job.data.msgTime * 1000),
      ...agents,
    );
    if (outcome === 'withdrawn') throw new ReplyWithdrawn('its agent recalled the /transfer before it acted');
    if (outcome === 'not_yours') return this.notYours(job, 'transfer', other, lease, count);
    if (outcome === 'not_open') return this.notOpen(job, 'transfer', lease, count);
    if (outcome === 'same' || outcome === 'none') {
      const why = outcome === 'same' ? 'they are already yours' : 'no other agent is online with room for another conversation';
      await this.tell(job, agent, 'transfer', `⚠ Relay notice — not handed on: ${why}. The customer stays with you.`, lease);
      count('refused');
      return { handled: 'transfer' };
    }
    const next = other!;
    // The old agent's place is free: the customer waiting longest takes it.
    await this.deps.presence.wakeWaiting(1);
    // The new agent first reads where the conversation stands; then the old one is told. Each once,
    // however often the command is retried (the history read again would make a new text, which IM
    // would not drop as a repeat).
    const introRefused = await this.tellOnce(job, next, 'transfer-to', lease, async () => {
      const history = await this.historyOrNone(job, agent, lease);
      return `↪ Relay notice — ${agent} handed this customer to you.${history.length > 0 ? ` The conversation so far:\n${history.join('\n')}` : ''}`;
    });
    const unseen = introRefused === undefined ? '' : ` IM refused the relay's notice to ${next} (${introRefused}): they were not told, tell them yourself.`;
    await this.tellOnce(
      job,
      agent,
      'transfer',
      lease,
      async () => `✓ Handed to ${next}. Your replies to this customer from now on are not delivered.${unseen}`,
    );
    count('done');
    this.deps.levels.transferred('command');
    return { handled: 'transfer' };
  }

  /** The customer has no open conversation (closed already, or waiting for an agent): nothing to close or hand on. */
  private async notOpen(job: Job<ReplyJob>, what: string, lease: Lease | undefined, count: (o: 'done' | 'refused') => void): Promise<Handled> {
    const text = `⚠ Relay notice — /${what} was not done: this customer has no open conversation (it was closed, or they wait for an agent).`;
    await this.tell(job, job.data.agent, what, text, lease);
    count('refused');
    return { handled: what };
  }

  private async notYours(
    job: Job<ReplyJob>,
    what: string,
    current: string | undefined,
    lease: Lease | undefined,
    count: (o: 'done' | 'refused') => void,
  ): Promise<Handled> {
    const who = current === undefined || current === '' ? 'no agent' : current;
    await this.tell(job, job.data.agent, what, `⚠ Relay notice — /${what} was not done: this customer is with ${who}, not you.`, lease);
    count('refused');
    return { handled: what };
  }

  /**
   * The conversation so far for a hand-on's notice, or none when IM refuses the history for good
   * (an account gone, a code it will not change): the new agent is told all the same.
   */
  private async historyOrNone(job: Job<ReplyJob>, agent: string, lease: Lease | undefined): Promise<string[]> {
    try {
      return await this.recentHistory(job.data.userId, agent, lease);
    } catch (err) {
      if (!(err instanceof ImPermanentError || err instanceof ImNotImportedError)) throw err;
      this.deps.log.warn(
        { jobId: job.id, agent, code: err.code, reason: err.message },
        "IM refused the conversation's history for good: the notice goes without it",
      );
      return [];
    }
  }

  /** The last messages both ways between the customer and the agent handing them on, oldest first. */
  async recentHistory(userId: string, agent: string, lease: Lease | undefined): Promise<string[]> {
    const now = Math.floor(Date.now() / 1000);
    const options = { beforeSend: async (command: string) => (await this.deps.turn({ platform: 'im', command }, lease)) >= 0 };
    for await (const page of this.deps.im.history(userId, agent, now - HISTORY_LOOKBACK_S, now, options)) {
      // Newest first: the first page holds the latest.
      // The relay's notices and the agents' commands were never part of the conversation.
      // Nor were messages their sender recalled.
      const said = page.filter((m) => decodeRelayCustomData(m.CloudCustomData)?.source !== 'relay-notice' && !isCommand(m, userId) && !isRecalled(m));
      return said
        .slice(0, HISTORY_MESSAGES)
        .reverse()
        .map((m) => historyLine(m, userId));
    }
    return [];
  }
}
