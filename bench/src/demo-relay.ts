import { randomInt } from 'node:crypto';
import Fastify from 'fastify';
import { ImClient, ImError, UserSigCache, encodeRelayCustomData, textElem } from '@wxim/im';
import { MessageCipher, PushRejected, openPush, singleValuedQuery } from '@wxim/wechat';

/**
 * The yardstick of the relay benchmark: the platform's usual demo of a WeChat → IM relay, written
 * plainly as such a demo is. One process; for each push it verifies the signature, decrypts the
 * safe-mode body, parses the XML, imports the customer's IM account on first sight, calls IM's
 * `openim/sendmsg` and answers WeChat `success` only once IM has answered. No Redis, no queue, no
 * ordering, no retries: a push IM refuses (60007 over IM's limit, say) is answered 500 and lost
 * unless WeChat sends it again. Fastify, the web framework the platform's demos use.
 *
 * The protocol code is the relay's own (`@wxim/wechat` opens the push, `@wxim/im`'s client makes
 * the calls over keep-alive connections, with the UserSig from `tls-sig-api-v2`), so what the
 * benchmark compares is the relay's design, not two implementations of the protocols. The message
 * carries the push's MsgId in CloudCustomData, as the relay's does: the benchmark counts by it.
 *
 * Environment: DEMO_PORT, WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_ENCODING_AES_KEY, IM_API_BASE,
 * IM_SDK_APP_ID, IM_SECRET_KEY, IM_ADMIN, IM_AGENT (the account every message goes to; the first
 * of IM_AGENTS when not set), LOG_LEVEL.
 */
function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

const token = required('WECHAT_TOKEN');
const cipher = new MessageCipher(required('WECHAT_ENCODING_AES_KEY'), required('WECHAT_APP_ID'));
const sdkAppId = Number(required('IM_SDK_APP_ID'));
const admin = required('IM_ADMIN');
const agent = process.env['IM_AGENT'] ?? required('IM_AGENTS').split(',')[0]!;
const im = new ImClient({ sdkAppId, admin, userSig: new UserSigCache(sdkAppId, required('IM_SECRET_KEY'), admin), apiBase: required('IM_API_BASE') });
/** Customers imported into IM since the process started. */
const imported = new Set<string>();

const app = Fastify({ logger: { level: process.env['LOG_LEVEL'] ?? 'info' } });
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

app.post<{ Querystring: Record<string, unknown>; Body: string }>('/wechat', async (req, reply) => {
  let message;
  try {
    message = openPush(singleValuedQuery(req.query), req.body, { token, cipher }, Math.floor(Date.now() / 1000)).message;
  } catch (err) {
    if (err instanceof PushRejected) return reply.code(err.status).send(err.message);
    throw err;
  }
  const openid = message.fromUserName;
  try {
    if (!imported.has(openid)) {
      await im.importAccount(openid);
      imported.add(openid);
    }
    await im.sendC2C({
      from: openid,
      to: agent,
      msgSeq: randomInt(2 ** 32),
      msgRandom: randomInt(2 ** 32),
      body: [textElem(message.kind === 'text' ? message.content : `[${message.kind} message]`)],
      cloudCustomData: encodeRelayCustomData({
        source: 'wechat',
        openid,
        type: message.kind,
        ...('msgId' in message ? { msgId: message.msgId } : {}),
        createTime: message.createTime,
      }),
    });
  } catch (err) {
    if (!(err instanceof ImError)) throw err;
    req.log.warn({ err }, 'IM did not take the message');
    return reply.code(500).send('IM did not take the message');
  }
  return reply.type('text/plain').send('success');
});

app.get('/healthz', async () => ({ status: 'ok' }));

await app.listen({ port: Number(process.env['DEMO_PORT'] ?? 3000), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
