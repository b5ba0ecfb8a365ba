import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** WeChat pads with PKCS#7 to a 32-byte block, not AES's 16: pad values run from 1 to 32. */
const BLOCK = 32;

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
}

/** Decodes an EncodingAESKey (43 base64 characters without the trailing "=") to the 32-byte AES key. */
export function aesKeyFromEncodingAesKey(encodingAesKey: string): Buffer {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (encodingAesKey.length !== 43 || key.length !== 32) throw new CryptoError('EncodingAESKey must be 43 base64 characters');
  return key;
}

export function pkcs7Pad(data: Buffer): Buffer {
  const n = BLOCK - (data.length % BLOCK);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

export function pkcs7Unpad(data: Buffer): Buffer {
  const n = data.at(-1) ?? 0;
  if (n < 1 || n > BLOCK || n > data.length) throw new CryptoError('bad padding');
  return data.subarray(0, data.length - n);
}

/** Which of the cipher's keys: the current EncodingAESKey, or the one before it (while a change is under way). */
export type KeyInUse = 'current' | 'previous';

/**
 * The message crypto of safe and compatible mode: AES-256-CBC, IV = the first 16 key bytes,
 * plaintext = 16 random bytes ‖ uint32 BE length ‖ message ‖ appid.
 *
 * With the EncodingAESKey before the current one (WeChat's advice for changing it: keep the last
 * key, try it when the current one fails, and answer in the key the push came in), a push
 * encrypted with either opens, so changing the key in the console loses nothing while the two
 * sides disagree.
 */
export class MessageCipher {
  private readonly keys: Record<KeyInUse, Buffer | undefined>;

  constructor(
    encodingAesKey: string,
    readonly appId: string,
    previousEncodingAesKey?: string,
  ) {
    this.keys = {
      current: aesKeyFromEncodingAesKey(encodingAesKey),
      previous: previousEncodingAesKey === undefined ? undefined : aesKeyFromEncodingAesKey(previousEncodingAesKey),
    };
  }

  encrypt(message: string, random: Buffer = randomBytes(16), key: KeyInUse = 'current'): string {
    const aesKey = this.keys[key] ?? this.keys.current!;
    const body = Buffer.from(message, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    const plain = pkcs7Pad(Buffer.concat([random, length, body, Buffer.from(this.appId, 'utf8')]));
    const cipher = createCipheriv('aes-256-cbc', aesKey, aesKey.subarray(0, 16)).setAutoPadding(false);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  }

  /** Decrypts and checks that the trailing appid is ours; returns the message text. */
  decrypt(encrypted: string): string {
    return this.open(encrypted).text;
  }

  /** Decrypts with the current key, else the previous one; says which opened it (a passive reply goes in that one). */
  open(encrypted: string): { text: string; key: KeyInUse } {
    try {
      return { text: this.decryptWith(this.keys.current!, encrypted), key: 'current' };
    } catch (err) {
      if (!(err instanceof CryptoError) || this.keys.previous === undefined) throw err;
      try {
        return { text: this.decryptWith(this.keys.previous, encrypted), key: 'previous' };
      } catch {
        throw err;
      }
    }
  }

  private decryptWith(key: Buffer, encrypted: string): string {
    const data = Buffer.from(encrypted, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw new CryptoError('ciphertext is not a whole number of AES blocks');
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const plain = pkcs7Unpad(Buffer.concat([decipher.update(data), decipher.final()]));
    if (plain.length < 20) throw new CryptoError('plaintext too short');
    const length = plain.readUInt32BE(16);
    if (20 + length > plain.length) throw new CryptoError('message length exceeds plaintext');
    const appId = plain.subarray(20 + length).toString('utf8');
    if (appId !== this.appId) throw new CryptoError('appid does not match');
    return plain.subarray(20, 20 + length).toString('utf8');
  }
}
