import { DEFAULT_ACCOUNT, loggedAccount } from '@wxim/config';
import type { AccountService } from '@wxim/host';
import { QUEUES } from '@wxim/queue';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest, LightMyRequestResponse } from 'fastify';
import { noFraming } from './no-framing.js';

/** A queue's jobs at a glance: waiting (prioritized included), active, delayed, failed. */
export interface QueueCounts {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** `/counts.json`: each queue's counts, for the list of accounts. Behind the board's login. */
export function countsRoute(app: FastifyInstance, queues: readonly Queue[]): void {
  app.get('/counts.json', async () => ({
    queues: await Promise.all(
      queues.map(async (q): Promise<QueueCounts> => {
        const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
        return {
          name: q.name,
          waiting: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0),
          active: c['active'] ?? 0,
          delayed: c['delayed'] ?? 0,
          failed: c['failed'] ?? 0,
        };
      }),
    ),
  }));
}

interface Row {
  account: string;
  board: string;
  counts?: QueueCounts[];
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const LISTED = [QUEUES.wechatInbound, QUEUES.agentReplies];

function html(rows: readonly Row[]): string {
  const cells = (row: Row) =>
    LISTED.map((name) => {
      const q = row.counts?.find((c) => c.name === name);
      return q === undefined ? '<td colspan="2">unavailable</td>' : `<td>${q.waiting}</td><td${q.failed > 0 ? ' class="failed"' : ''}>${q.failed}</td>`;
    }).join('');
  const body = rows
    .map((r) => `<tr><td><a href="${escape(r.board)}">${escape(r.account)}</a></td>${cells(r)}<td><a href="${escape(r.board)}desk">desk</a></td></tr>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Accounts — WeChat ⇄ IM relay</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}.failed{color:#b00;font-weight:bold}</style></head>
<body><h1>Official Accounts</h1>
<table><tr><th rowspan="2">account</th>${LISTED.map((n) => `<th colspan="2">${n}</th>`).join('')}<th rowspan="2"></th></tr>
<tr>${LISTED.map(() => '<th>waiting</th><th>failed</th>').join('')}</tr>${body}</table></body></html>`;
}

/** Where the front lists every account; each account's board links back to it. */
export const ACCOUNTS_LIST_PATH = '/accounts/';

/**
 * The list of accounts (ACCOUNTS_FILE), at `/accounts/`, and at `/` when there is no `default`
 * account (whose board `/` stays otherwise): each account's id, a link to its board and desk, and
 * its queues' waiting and failed jobs. Each account's own dashboard answers for its counts, with
 * the request's login and Host: the login, its throttle and the local-only check are its own, and
 * the first account's refusal is the page's.
 */
export function accountsPage(front: FastifyInstance, accounts: readonly AccountService[]): void {
  // The front's own pages too (each account's board sets them itself).
  front.addHook('onRequest', noFraming);
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const ask = (a: AccountService) => a.service.app.inject({ method: 'GET', url: '/counts.json', headers: req.headers, remoteAddress: req.ip });
    const first = await ask(accounts[0]!);
    if (first.statusCode >= 400 && first.statusCode < 500) return passOn(reply, first);
    const answers = [first, ...(await Promise.all(accounts.slice(1).map(ask)))];
    const rows = accounts.map((a, i): Row => {
      const answer = answers[i]!;
      // The variables' own `default` (and sandbox mode's) keeps its board at the root.
      const board = loggedAccount(a.config) === undefined ? '/' : `/accounts/${a.account}/`;
      return { account: a.account, board, ...(answer.statusCode === 200 ? { counts: answer.json<{ queues: QueueCounts[] }>().queues } : {}) };
    });
    return reply.type('text/html; charset=utf-8').send(html(rows));
  };
  front.get(ACCOUNTS_LIST_PATH, page);
  front.get('/accounts', page);
  if (!accounts.some((a) => a.account === DEFAULT_ACCOUNT)) front.get('/', page);
}

function passOn(reply: FastifyReply, answer: LightMyRequestResponse): FastifyReply {
  for (const name of ['content-type', 'www-authenticate', 'retry-after']) {
    const value = answer.headers[name];
    if (value !== undefined) reply.header(name, value);
  }
  return reply.code(answer.statusCode).send(answer.rawPayload);
}
