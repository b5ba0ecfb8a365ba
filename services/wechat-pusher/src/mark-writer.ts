/** One mark waiting to be written; `dropped` says why it never will be. */
export interface PendingMark {
  write(): Promise<void>;
  dropped(why: 'full' | 'closed' | 'superseded'): void;
}

export interface MarkWriterOptions {
  /** Marks waiting at most; one more is dropped (a mark is a hint: the reply's delivery never waits for room). */
  maxPending: number;
  /** Marks being written at once: enough to use IM's pace while each call waits for its answer. */
  writers: number;
}

/**
 * Writes a process's final delivery marks beside the replies, never in their way: a reply's job
 * hands its mark over and goes on to the customer's next reply, whatever IM's pace for the marks'
 * command or its answers' speed. Marks are started in the order they came, at most `writers` at a
 * time, one at a time per reply (its key): a newer mark for a reply replaces its mark still
 * waiting, so the last state decided is the last written. What waits lives in this process only:
 * a crash loses it, which a mark may — the relay's notices tell agents of failures durably.
 */
export class MarkWriter {
  private readonly pending = new Map<string, PendingMark>();
  private readonly writing = new Set<string>();
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: MarkWriterOptions) {}

  /** Marks waiting, and being written. */
  get size(): number {
    return this.pending.size + this.writing.size;
  }

  /** Hands a reply's mark over; false when it was dropped (the writer is full, or closed). */
  add(key: string, mark: PendingMark): boolean {
    const replaced = this.pending.get(key);
    if (this.closed || (replaced === undefined && this.pending.size >= this.options.maxPending)) {
      mark.dropped(this.closed ? 'closed' : 'full');
      return false;
    }
    if (replaced !== undefined) {
      this.pending.delete(key);
      replaced.dropped('superseded');
    }
    this.pending.set(key, mark);
    this.pump();
    return true;
  }

  /**
   * Takes no more marks and writes those waiting for up to `drainMs`; the ones still waiting then
   * are dropped. Resolves then, or as soon as none is left.
   */
  async close(drainMs: number): Promise<void> {
    this.closed = true;
    if (this.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => (this.idle = r)),
        new Promise<void>((r) => {
          timer = setTimeout(r, drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.abort();
  }

  /** Drops every mark still waiting; those being written end with their calls. */
  abort(): void {
    this.closed = true;
    for (const mark of this.pending.values()) mark.dropped('closed');
    this.pending.clear();
    this.idle?.();
  }

  private pump(): void {
    while (this.writing.size < this.options.writers) {
      const next = this.nextFree();
      if (next === undefined) break;
      const [key, mark] = next;
      this.pending.delete(key);
      this.writing.add(key);
      void mark
        .write()
        .catch(() => undefined) // a PendingMark counts and logs its own failures
        .finally(() => {
          this.writing.delete(key);
          this.pump();
        });
    }
    if (this.size === 0) this.idle?.();
  }

  /** The oldest mark whose reply has no mark being written now (at most `writers` are passed over). */
  private nextFree(): [string, PendingMark] | undefined {
    for (const entry of this.pending) if (!this.writing.has(entry[0])) return entry;
    return undefined;
  }
}
