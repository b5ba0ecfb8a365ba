import { readFileSync } from 'node:fs';
import { amrInfo, jpegSize } from '@wxim/wechat';
import t from 'tap';

const fixture = (name: string) => readFileSync(new URL(`../../sandbox/fixtures/${name}`, import.meta.url));

/** An AMR file of the given frame types, each frame's speech bytes zero. */
function amr(magic: string, types: number[], sizes: number[]): Buffer {
  return Buffer.concat([Buffer.from(magic), ...types.map((ft) => Buffer.concat([Buffer.from([ft << 3]), Buffer.alloc(sizes[ft]!)]))]);
}
const NB = [12, 13, 15, 17, 19, 20, 26, 31, 5];
const WB = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5];

t.test("the sandbox's 2 s AMR-NB recording is 100 frames of 20 ms", async (t) => {
  t.same(amrInfo(fixture('tone.amr')), { band: 'nb', frames: 100, durationMs: 2000 });
});

t.test('frames of every AMR-NB mode, silence (SID) and no-data frames each count 20 ms', async (t) => {
  t.same(amrInfo(amr('#!AMR\n', [0, 1, 2, 3, 4, 5, 6, 7, 8, 15], [...NB, 0, 0, 0, 0, 0, 0, 0])), { band: 'nb', frames: 10, durationMs: 200 });
  t.same(amrInfo(Buffer.from('#!AMR\n')), { band: 'nb', frames: 0, durationMs: 0 }, 'an empty recording');
});

t.test('AMR-WB is counted with its own frame sizes', async (t) => {
  t.same(amrInfo(amr('#!AMR-WB\n', [0, 8, 9, 2], WB)), { band: 'wb', frames: 4, durationMs: 80 });
});

t.test('what is not whole AMR is refused: another format, a cut frame, a reserved type, padding bits set', async (t) => {
  t.equal(amrInfo(fixture('thumb.jpg')), undefined);
  const whole = amr('#!AMR\n', [7, 7], NB);
  t.equal(amrInfo(whole.subarray(0, whole.length - 1)), undefined, 'the last frame cut short');
  t.equal(amrInfo(amr('#!AMR\n', [9], [...NB, 0])), undefined, 'type 9 is reserved');
  t.equal(amrInfo(Buffer.concat([Buffer.from('#!AMR\n'), Buffer.from([0x84]), Buffer.alloc(12)])), undefined, 'bit 7 set');
});

t.test("a JPEG's size comes from its frame header; other bytes have none", async (t) => {
  t.same(jpegSize(fixture('thumb.jpg')), { width: 160, height: 120 });
  t.equal(jpegSize(fixture('tone.amr')), undefined);
  t.equal(jpegSize(fixture('thumb.jpg').subarray(0, 20)), undefined, 'cut before the frame header');
});
