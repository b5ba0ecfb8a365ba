import { crc32, deflateSync } from 'node:zlib';

/**
 * A small PNG drawn from a seed (diagonal stripes in a colour of its own): the sandbox's stand-in
 * for the photos customers and agents send, so that the relay's media path carries real image
 * bytes without shipping any.
 */
export function stripesPng(seed: string, size = 96): Buffer {
  const hue = crc32(seed) % 360;
  const [light, dark] = [hsl(hue, 0.55, 0.72), hsl(hue, 0.55, 0.45)];
  const row = 1 + size * 3;
  const pixels = Buffer.alloc(row * size);
  for (let y = 0; y < size; y++) {
    // Each row starts with its filter type, 0 (none).
    for (let x = 0; x < size; x++) pixels.set(Math.floor((x + y) / 12) % 2 === 0 ? light : dark, y * row + 1 + x * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, truecolour, deflate, no filter set, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
