import { type StateKeys, isOnline, storedAgentState } from '@wxim/state';
import type { FastifyInstance } from 'fastify';
import type { Cluster, Redis } from 'ioredis';

/** How many waiting customers the page lists (the oldest first). */
const WAITING_LISTED = 200;

export interface DeskView {
  agents: { agent: string; online: boolean; state?: string; open: number }[];
  waiting: { openid: string; since: string; waitedS: number }[];
}

/** The desk as Redis holds it now: each agent's state and open conversations, and who waits (oldest first). */
export async function readDesk(redis: Redis | Cluster, keys: StateKeys, agents: readonly string[]): Promise<DeskView> {
  const [states, loads, waiting, [seconds, micro]] = await Promise.all([
    agents.length === 0 ? Promise.resolve([] as (string | null)[]) : redis.hmget(keys.agentState, ...agents),
    redis.zrange(keys.agentLoad, 0, -1, 'WITHSCORES'),
    redis.zrange(keys.deskWaiting, 0, WAITING_LISTED - 1, 'WITHSCORES'),
    redis.time(),
  ]);
  const now = Number(seconds) * 1000 + Math.floor(Number(micro) / 1000);
  const open = new Map<string, number>();
  for (let i = 0; i + 1 < loads.length; i += 2) open.set(loads[i]!, Math.max(0, Number(loads[i + 1])));
  const list: DeskView['waiting'] = [];
  for (let i = 0; i + 1 < waiting.length; i += 2) {
    const since = Number(waiting[i + 1]);
    list.push({ openid: waiting[i]!, since: new Date(since).toISOString(), waitedS: Math.max(0, Math.round((now - since) / 1000)) });
  }
  return {
    agents: agents.map((agent, i) => {
      const state = storedAgentState(states[i]);
      return { agent, online: isOnline(state), ...(state === undefined ? {} : { state: state.action }), open: open.get(agent) ?? 0 };
    }),
    waiting: list,
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(view: DeskView): string {
  const agentRows = view.agents
    .map(
      (a) =>
        `<tr><td>${escape(a.agent)}</td><td>${a.online ? 'online' : 'offline'}${a.state ? ` (${escape(a.state)})` : ' (never heard of)'}</td><td>${a.open}</td></tr>`,
    )
    .join('');
  const waitingRows = view.waiting.map((w) => `<tr><td>${escape(w.openid)}</td><td>${escape(w.since)}</td><td>${w.waitedS}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Desk — WeChat ⇄ IM relay</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}</style></head>
<body><h1>Desk</h1><p><a href="./">Queues</a> · <a href="desk.json">JSON</a></p>
<h2>Agents</h2><table><tr><th>agent</th><th>state</th><th>open conversations</th></tr>${agentRows}</table>
<h2>Waiting for an agent (${view.waiting.length}${view.waiting.length === WAITING_LISTED ? '+' : ''})</h2>
<table><tr><th>customer (openid)</th><th>waiting since</th><th>waited (s)</th></tr>${waitingRows || '<tr><td colspan="3">nobody</td></tr>'}</table></body></html>`;
}

/** `/desk` (a page) and `/desk.json`: who is online, their open conversations, and who waits. Behind the board's login. */
export function deskRoutes(app: FastifyInstance, read: () => Promise<DeskView>): void {
  app.get('/desk.json', async () => read());
  app.get('/desk', async (_req, reply) => reply.type('text/html; charset=utf-8').send(html(await read())));
}
