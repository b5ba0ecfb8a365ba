import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { mediaExpiresAt } from '../src/customer-media.js';
import { VoiceTranscoder } from '../src/voice-transcode.js';

// An "ffmpeg" that prints the arguments it was given, one a line: what the relay asks of the real one.
const dir = mkdtempSync(join(tmpdir(), 'wxim-args-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const echo = join(dir, 'ffmpeg');
writeFileSync(echo, '#!/bin/sh\ncat >/dev/null\nprintf \'%s\\n\' "$@"\n');
chmodSync(echo, 0o755);
const transcoder = new VoiceTranscoder({ command: echo });

async function inputOptions(format: string | undefined): Promise<string[]> {
  const args = (await transcoder.toMp3(Buffer.from('#!AMR\n'), format)).toString().trim().split('\n');
  return args.slice(args.indexOf('error') + 1, args.indexOf('pipe:0') + 1);
}

t.test('a recording the push says is AMR is read as AMR, from the pipe only', async (t) => {
  t.same(await inputOptions('amr'), ['-protocol_whitelist', 'pipe', '-f', 'amr', '-i', 'pipe:0']);
  t.same(await inputOptions('AMR'), ['-protocol_whitelist', 'pipe', '-f', 'amr', '-i', 'pipe:0']);
});

t.test('another format (Speex) is probed, still from the pipe only', async (t) => {
  t.same(await inputOptions('speex'), ['-protocol_whitelist', 'pipe', '-i', 'pipe:0']);
  t.same(await inputOptions(undefined), ['-protocol_whitelist', 'pipe', '-i', 'pipe:0']);
});

t.test("media links expire 3 days from the push's CreateTime, or from the first attempt when that is earlier", async (t) => {
  const firstAttempt = 1_800_000_000_000;
  const day = 86_400;
  t.equal(mediaExpiresAt(1_800_000_000 - 60, firstAttempt), 1_800_000_000 - 60 + 3 * day, 'a push a minute old: its CreateTime');
  t.equal(mediaExpiresAt(1_800_000_000 + 30 * day, firstAttempt), 1_800_000_000 + 3 * day, 'a CreateTime in the future: the first attempt');
  t.equal(mediaExpiresAt(1_800_000_000 + 30 * day, firstAttempt + 999), 1_800_000_000 + 3 * day, 'whole seconds');
});
