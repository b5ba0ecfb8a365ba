import { MessageCipher, PushRejected, openPush } from '@wxim/wechat';
import { WechatPlatform } from '@wxim/sandbox';
import t from 'tap';

const token = 'tokentoken';
const appId = 'wx0123456789abcdef';
const key = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const cipher = new MessageCipher(key, appId);
const now = Math.floor(Date.now() / 1000);

function split(path: string): Record<string, string> {
  return Object.fromEntries(new URL(path, 'http://x').searchParams);
}

function rejected(t: { equal: (a: unknown, b: unknown, m: string) => void }, fn: () => unknown, status: number, what: string) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.equal(caught instanceof PushRejected ? caught.status : caught, status, what);
}

t.test('plain, compatible and safe pushes open to the same message', async (t) => {
  for (const mode of ['plain', 'compatible', 'safe'] as const) {
    const wx = new WechatPlatform({ gatewayUrl: '', token, appId, encodingAesKey: key, mode });
    const msg = wx.text('openid_1', `hi from ${mode}`);
    const { path, body } = wx.sign(msg);
    const opened = openPush(split(path), body, { token, cipher }, now);
    t.same(opened.message, msg, mode);
    t.equal(opened.encrypted, mode !== 'plain');
  }
});

t.test('compatible mode opens without a key; safe mode without a key is a configuration error', async (t) => {
  const compatible = new WechatPlatform({ gatewayUrl: '', token, appId, encodingAesKey: key, mode: 'compatible' });
  const c = compatible.sign(compatible.text('o1', 'x'));
  t.equal(openPush(split(c.path), c.body, { token }, now).message.kind, 'text');
  const safe = new WechatPlatform({ gatewayUrl: '', token, appId, encodingAesKey: key, mode: 'safe' });
  const s = safe.sign(safe.text('o1', 'x'));
  rejected(t, () => openPush(split(s.path), s.body, { token }, now), 500, 'safe mode without key');
});

t.test('forged, unsigned and stale pushes are refused with 401', async (t) => {
  const wx = new WechatPlatform({ gatewayUrl: '', token, appId, encodingAesKey: key, mode: 'safe' });
  const { path, body } = wx.sign(wx.text('o1', 'x'));
  const q = split(path);
  rejected(t, () => openPush({ ...q, signature: '0'.repeat(40) }, body, { token, cipher }, now), 401, 'forged signature');
  rejected(t, () => openPush({ ...q, msg_signature: '0'.repeat(40) }, body, { token, cipher }, now), 401, 'forged msg_signature');
  rejected(t, () => openPush({}, body, { token, cipher }, now), 401, 'unsigned');
  rejected(t, () => openPush(q, body, { token: 'othertoken', cipher }, now), 401, 'another token');
  rejected(t, () => openPush(q, body, { token, cipher }, now + 310), 401, 'stale');
  rejected(t, () => openPush(q, body, { token, cipher }, now - 310), 401, 'from the future');
  t.equal(openPush(q, body, { token, cipher }, now + 290).message.kind, 'text', 'inside the window');
});

t.test('a push for another appid, or with a broken body, is refused with 400', async (t) => {
  const other = new WechatPlatform({ gatewayUrl: '', token, appId: 'wxffffffffffffffff', encodingAesKey: key, mode: 'safe' });
  const o = other.sign(other.text('o1', 'x'));
  rejected(t, () => openPush(split(o.path), o.body, { token, cipher }, now), 400, 'wrong appid');
  const plain = new WechatPlatform({ gatewayUrl: '', token, appId });
  const p = plain.sign(plain.text('o1', 'x'));
  rejected(t, () => openPush(split(p.path), '<xml><MsgType>text', { token }, now), 400, 'malformed');
  rejected(t, () => openPush(split(p.path), '', { token }, now), 400, 'empty');
});
