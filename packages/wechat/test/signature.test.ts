import { msgSignature, signaturesEqual, urlSignature } from '@wxim/wechat';
import t from 'tap';
import { vectors } from './fixtures/vectors.js';

t.test('signature matches the published vectors', async (t) => {
  for (const v of vectors.signature) t.equal(urlSignature(v.token, v.timestamp, v.nonce), v.signature, v.source);
});

t.test('msg_signature signs the Encrypt text and matches the published vectors', async (t) => {
  const signed = vectors.crypto.filter((v) => v.msgSignature !== null);
  t.ok(new Set(signed.map((v) => v.source.split('/')[1])).size >= 3, 'vectors from at least three independent code bases');
  for (const v of signed) t.equal(msgSignature(v.token, v.timestamp, v.nonce, v.encrypt), v.msgSignature, v.source);
});

t.test('signatures compare in constant time, case-insensitively, and refuse anything else', async (t) => {
  const sig = urlSignature('token', '1', '2');
  t.ok(signaturesEqual(sig, sig.toUpperCase()));
  t.notOk(signaturesEqual(sig, undefined));
  t.notOk(signaturesEqual(sig, sig.slice(1)));
  t.notOk(signaturesEqual(sig, `${sig.slice(0, -1)}0` === sig ? `${sig.slice(0, -1)}1` : `${sig.slice(0, -1)}0`));
});
