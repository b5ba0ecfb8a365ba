import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ImSimulator, ReceivedMessage } from './im-simulator.js';

type Body = Record<string, unknown> | undefined;

/**
 * `/sim/*` routes that drive the simulated agents' clients and IM's callbacks, for sandbox mode
 * and tests in other processes: `POST /sim/agent-send {From_Account, To_Account, MsgBody,
 * CloudCustomData?}`, `POST /sim/agent-login|agent-logout {Account}`, `GET /sim/callbacks`,
 * `PUT /sim/callback {url, token?}`, `POST /sim/callback-lost {times}`, `POST /sim/agent-typing
 * {From_Account, To_Account, typing}`, `POST /sim/agent-recall {From_Account, To_Account, MsgKey}`.
 */
export function agentRoutes(app: FastifyInstance, sim: ImSimulator): void {
  const refuse = (reply: FastifyReply, err: unknown) => reply.code(400).send({ error: err instanceof Error ? err.message : String(err) });
  app.post<{ Body: Body }>('/sim/agent-send', async (req, reply) => {
    const { From_Account: from, To_Account: to, MsgBody: msgBody, CloudCustomData: cloudCustomData } = req.body ?? {};
    if (typeof from !== 'string' || typeof to !== 'string') return refuse(reply, 'From_Account and To_Account are required');
    const opts = typeof cloudCustomData === 'string' ? { cloudCustomData } : {};
    // sendmsg's own checks validate MsgBody, as for a REST send.
    return sim.agentSend(from, to, msgBody as ReceivedMessage['body'], opts).catch((err: unknown) => refuse(reply, err));
  });
  app.post<{ Body: Body }>('/sim/agent-typing', async (req, reply) => {
    const { From_Account: from, To_Account: to, typing } = req.body ?? {};
    if (typeof from !== 'string' || typeof to !== 'string' || typeof typing !== 'boolean')
      return refuse(reply, 'From_Account, To_Account and typing (true or false) are required');
    return sim.agentTyping(from, to, typing).catch((err: unknown) => refuse(reply, err));
  });
  app.post<{ Body: Body }>('/sim/agent-recall', async (req, reply) => {
    const { From_Account: from, To_Account: to, MsgKey: msgKey } = req.body ?? {};
    if (typeof from !== 'string' || typeof to !== 'string' || typeof msgKey !== 'string')
      return refuse(reply, 'From_Account, To_Account and MsgKey are required');
    return sim.agentRecall(from, to, msgKey).then(
      (delivered) => ({ delivered }),
      (err: unknown) => refuse(reply, err),
    );
  });
  const states = { '/sim/agent-login': (a: string) => sim.agentLogin(a), '/sim/agent-logout': (a: string) => sim.agentLogout(a) };
  for (const [path, change] of Object.entries(states)) {
    app.post<{ Body: Body }>(path, async (req, reply) => {
      const account = req.body?.['Account'];
      if (typeof account !== 'string') return refuse(reply, 'Account is required');
      return change(account).then(
        (delivered) => ({ delivered }),
        (err: unknown) => refuse(reply, err),
      );
    });
  }
  app.get('/sim/callbacks', async () => sim.callbacks);
  app.put<{ Body: Body }>('/sim/callback', async (req, reply) => {
    const { url, token } = req.body ?? {};
    if (typeof url !== 'string' || (token !== undefined && typeof token !== 'string')) return refuse(reply, 'url (and token) must be strings');
    try {
      sim.setCallback(url, token);
    } catch (err) {
      return refuse(reply, err);
    }
    return { url };
  });
  app.post<{ Body: Body }>('/sim/callback-lost', async (req, reply) => {
    const times = req.body?.['times'] ?? 1;
    if (typeof times !== 'number' || !Number.isInteger(times) || times < 0) return refuse(reply, 'times must be a whole number');
    sim.callbackLost(times);
    return { times };
  });
}
