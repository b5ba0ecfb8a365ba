import { spawn } from 'node:child_process';
import type { RetryClassed } from '@wxim/host';

/**
 * Customers' voice messages come as AMR-NB (sometimes Speex), which IM clients do not play. ffmpeg
 * (Debian's build has the AMR and Speex decoders and LAME) turns them into MP3, which every IM
 * client and browser plays: mono, 16 kHz (MPEG-2, which every MP3 decoder takes; AMR-NB carries
 * nothing above 4 kHz anyway), 16 kbit/s constant — 2 KB a second, 120 KB a minute. Run as a
 * child with pipes, a deadline and an output cap; no file is written.
 */
export const MP3_BITRATE = 16_000;
export const MP3_SAMPLE_RATE = 16_000;

/** ffmpeg's input options for a recording in `format` (the push's Format): AMR named, anything else probed, pipes only. */
export function inputArgs(format: string | undefined): string[] {
  return ['-protocol_whitelist', 'pipe', ...(format?.toLowerCase() === 'amr' ? ['-f', 'amr'] : []), '-i', 'pipe:0'];
}

/**
 * ffmpeg did not give the MP3. `passing` when the machine rather than the recording is at fault
 * (it could not be started, it was killed, it ran out of time): the job tries again, as with a
 * download WeChat answered "busy"; otherwise ffmpeg refused the recording, which no retry changes.
 */
export class TranscodeError extends Error implements RetryClassed {
  override readonly name = 'TranscodeError';
  /** Retried (when passing) under this class, not `internal`. */
  readonly retryClass = 'transcode';

  constructor(
    message: string,
    readonly passing = false,
  ) {
    super(message);
  }
}

/** A failed version check is looked at again after this long: one may fail while the machine is short of processes or memory. */
const RECHECK_MS = 60_000;

export interface VoiceTranscoderOptions {
  /** The ffmpeg to run: `ffmpeg` on PATH by default. */
  command?: string;
  timeoutMs?: number;
  /** More MP3 than this (a recording far past WeChat's 60 s) is refused. */
  maxOutputBytes?: number;
}

export class VoiceTranscoder {
  private readonly command: string;
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;
  private availability: Promise<boolean> | undefined;
  private checkedAt = 0;

  constructor(options: VoiceTranscoderOptions = {}) {
    this.command = options.command ?? 'ffmpeg';
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
  }

  /**
   * Whether ffmpeg runs here: once it has, that is kept; that it does not (not installed, or it
   * fails) is looked at again after a minute. A check the machine failed (out of processes or
   * memory, killed) rejects with that passing TranscodeError and is made again at the next ask.
   */
  available(): Promise<boolean> {
    if (this.availability === undefined || (this.checkedAt !== 0 && Date.now() - this.checkedAt >= RECHECK_MS)) {
      this.checkedAt = 0;
      const check: Promise<boolean> = this.run(['-hide_banner', '-version'], Buffer.alloc(0)).then(
        () => true,
        (err: unknown) => {
          if (err instanceof TranscodeError && err.passing) {
            if (this.availability === check) this.availability = undefined;
            throw err;
          }
          this.checkedAt = Date.now();
          return false;
        },
      );
      this.availability = check;
    }
    return this.availability;
  }

  /**
   * The recording as MP3. `-bitexact` and no metadata: the same recording gives the same bytes
   * every time, so a job run twice builds the same IM element. The input is what a customer sent:
   * read as AMR when the push says so (not as whatever ffmpeg's probe guesses from its first bytes),
   * and only from the pipe — a playlist or concat file naming other files or URLs is not followed.
   */
  toMp3(recording: Buffer, format?: string): Promise<Buffer> {
    return this.run(
      [
        ...['-hide_banner', '-loglevel', 'error', ...inputArgs(format), '-vn', '-map_metadata', '-1'],
        ...['-ac', '1', '-ar', String(MP3_SAMPLE_RATE), '-c:a', 'libmp3lame', '-b:a', String(MP3_BITRATE)],
        ...['-fflags', '+bitexact', '-flags:a', '+bitexact', '-id3v2_version', '0', '-write_xing', '0', '-f', 'mp3', 'pipe:1'],
      ],
      recording,
    );
  }

  private run(args: string[], input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let size = 0;
      let stderr = '';
      let failure: TranscodeError | undefined;
      const stop = (why: TranscodeError) => {
        failure ??= why;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => stop(new TranscodeError(`ffmpeg took longer than ${this.timeoutMs} ms`, true)), this.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxOutputBytes) stop(new TranscodeError(`ffmpeg wrote more than ${this.maxOutputBytes} bytes`));
        else out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 2000) stderr += chunk.toString();
      });
      // ffmpeg may stop reading early (a bad file): the broken pipe is its answer, not ours.
      child.stdin.on('error', () => {});
      child.on('error', (err) => {
        clearTimeout(timer);
        const code = (err as NodeJS.ErrnoException).code;
        // Not there is for good; out of processes, memory or files passes.
        reject(new TranscodeError(`ffmpeg could not be started: ${code ?? err.message}`, code !== 'ENOENT' && code !== 'EACCES'));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure !== undefined) return reject(failure);
        // Killed by someone else (the kernel short of memory, an operator): the recording is not at fault.
        if (signal !== null) return reject(new TranscodeError(`ffmpeg was killed (${signal})`, true));
        if (code !== 0) return reject(new TranscodeError(`ffmpeg failed (${code}): ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`.slice(0, 300)));
        resolve(Buffer.concat(out, size));
      });
      child.stdin.end(input);
    });
  }
}
