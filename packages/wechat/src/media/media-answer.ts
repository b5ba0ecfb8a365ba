/**
 * What `media/get` answers: the file itself (voice, image, thumbnail), a JSON link for a video, or
 * a JSON error. WeChat tells them apart only by the Content-Type, so JSON is recognised by it
 * (and, as a guard, by a body that opens with `{` while no file type is named).
 */
export type MediaAnswer = { kind: 'file'; bytes: Buffer; contentType: string } | { kind: 'json'; answer: Record<string, unknown> } | { kind: 'bad_json' };

export function readMediaAnswer(contentType: string | undefined, bytes: Buffer): MediaAnswer {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const looksJson = type === 'application/json' || type === 'text/plain' || ((type === '' || type === 'text/html') && bytes[0] === 0x7b);
  if (!looksJson) return { kind: 'file', bytes, contentType: type === '' ? 'application/octet-stream' : type };
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? { kind: 'json', answer: parsed as Record<string, unknown> }
      : { kind: 'bad_json' };
  } catch {
    return { kind: 'bad_json' };
  }
}

/** Reads a body to its end, or stops with undefined as soon as it passes `maxBytes` (the rest is never held). */
export async function readCapped(body: AsyncIterable<Uint8Array> & { destroy(): void }, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, size);
}
