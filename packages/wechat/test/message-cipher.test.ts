import { createDecipheriv } from 'node:crypto';
import { CryptoError, MessageCipher, aesKeyFromEncodingAesKey, pkcs7Pad, pkcs7Unpad } from '@wxim/wechat';
import t from 'tap';
import { vectors } from './fixtures/vectors.js';

/** The pad byte a vector was encrypted with, read with a raw AES decrypt. */
function padOf(encodingAesKey: string, encrypt: string): number {
  const key = aesKeyFromEncodingAesKey(encodingAesKey);
  const d = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  const plain = Buffer.concat([d.update(Buffer.from(encrypt, 'base64')), d.final()]);
  return plain.at(-1)!;
}

t.test('decrypts every published vector to its plaintext', async (t) => {
  t.ok(new Set(vectors.crypto.map((v) => v.source.split('/')[1])).size >= 3, 'vectors from several code bases');
  for (const v of vectors.crypto) t.equal(new MessageCipher(v.encodingAesKey, v.appId).decrypt(v.encrypt), v.plaintext, v.source);
});

t.test('pads of more than 16 bytes, which Node auto-padding rejects, are accepted', async (t) => {
  const large = vectors.crypto.filter((v) => padOf(v.encodingAesKey, v.encrypt) > 16);
  t.ok(large.length >= 1, 'the published vectors include a pad over 16');
  for (const v of large) t.equal(new MessageCipher(v.encodingAesKey, v.appId).decrypt(v.encrypt), v.plaintext);
  const cipher = new MessageCipher('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx0123456789abcdef');
  // 16 random + 4 length + 7 message + 18 appid = 45 bytes: padded with 19 bytes of 19.
  const sealed = cipher.encrypt('1234567');
  t.equal(padOf('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', sealed), 19);
  t.equal(cipher.decrypt(sealed), '1234567');
});

t.test('encrypt reproduces the official sample ciphertext for the sample random string', async (t) => {
  const samples = vectors.crypto.filter((v) => v.source.includes('WXBizMsgCryptTest') && v.msgSignature === null);
  t.ok(samples.length >= 1);
  for (const v of samples) {
    t.equal(new MessageCipher(v.encodingAesKey, v.appId).encrypt(v.plaintext, Buffer.from('aaaabbbbccccdddd')), v.encrypt, v.source);
  }
});

t.test('a message for another appid is refused', async (t) => {
  const v = vectors.crypto[0]!;
  t.throws(() => new MessageCipher(v.encodingAesKey, 'wx0000000000000000').decrypt(v.encrypt), CryptoError);
});

t.test('tampered, truncated and non-block ciphertexts are refused with CryptoError', async (t) => {
  const cipher = new MessageCipher('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx0123456789abcdef');
  const sealed = Buffer.from(cipher.encrypt('hello, 世界 🙂'), 'base64');
  t.equal(cipher.decrypt(sealed.toString('base64')), 'hello, 世界 🙂');
  t.throws(() => cipher.decrypt(sealed.subarray(0, 17).toString('base64')), CryptoError);
  t.throws(() => cipher.decrypt(''), CryptoError);
  const flipped = Buffer.from(sealed);
  flipped[flipped.length - 1]! ^= 0xff;
  t.throws(() => cipher.decrypt(flipped.toString('base64')), CryptoError);
});

t.test('PKCS#7 pads to a 32-byte block, 1 to 32 bytes', async (t) => {
  for (const n of [0, 1, 31, 32, 33, 63]) {
    const padded = pkcs7Pad(Buffer.alloc(n, 7));
    t.equal(padded.length % 32, 0);
    t.ok(padded.length - n >= 1 && padded.length - n <= 32);
    t.equal(pkcs7Unpad(padded).length, n);
  }
  t.throws(() => pkcs7Unpad(Buffer.from([1, 2, 33])), CryptoError);
  t.throws(() => pkcs7Unpad(Buffer.from([0])), CryptoError);
});

t.test('an EncodingAESKey must decode to 32 bytes', async (t) => {
  t.throws(() => aesKeyFromEncodingAesKey('short'), CryptoError);
  t.equal(aesKeyFromEncodingAesKey('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG').length, 32);
});
