/**
 * A reconnecting Server-Sent Events client with the same semantics as the Python
 * client (`open_agent_jupyter/notebook/sse.py`): exponential backoff (1 s doubling up
 * to 30 s, each delay shortened by a random jitter of up to half), resume with
 * `Last-Event-ID`, no entry delivered twice (by `seq`), and a backoff that resets
 * only after a good (non-`error`) event, so a server that accepts and drops at once
 * is not hammered.
 *
 * The transport is injected, so the logic is tested without a browser.
 */

import { ISSEEvent, SSEParser } from './sse';

/** What the connection is doing now (shown to the person). */
export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** An answer that retrying cannot fix (404, 403, ...). */
export class StreamRefused extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** Opens the stream once; resolves with its text chunks, or rejects. */
export type Transport = (
  lastEventId: number,
  signal: AbortSignal
) => Promise<AsyncIterable<string>>;

/** How a stream is followed. */
export interface IStreamOptions {
  /** Opens one connection (fetch in the browser, a fake in tests). */
  transport: Transport;
  /** Each new event (log entries after dedupe, `done`, `approval`, `task`, ...). */
  onEvent: (event: ISSEEvent, data: any) => void;
  /** Connection state changes. */
  onState?: (state: ConnectionState) => void;
  /** Every successful (re)connection (the task list reads the list again here). */
  onOpen?: () => void;
  /** The stream gave up: the server refused it. */
  onRefused?: (error: StreamRefused) => void;
  /** The event that ends the stream for good (`done` for a task stream). */
  endEvent?: string;
  /** The last `seq` already shown (resume after it). */
  after?: number;
  /** First delay and cap in ms (1,000 and 30,000). */
  baseDelay?: number;
  maxDelay?: number;
  /** Injected for tests: a sleep that an abort ends early, and the jitter source. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Exponential backoff with jitter; `delays` records every delay handed out. */
export class Backoff {
  failures = 0;
  readonly delays: number[] = [];

  constructor(
    readonly base = 1000,
    readonly cap = 30000,
    private random: () => number = Math.random
  ) {}

  /** The delay before the next attempt (and count one more failure). */
  next(): number {
    const raw = Math.min(this.cap, this.base * 2 ** this.failures);
    this.failures += 1;
    const delay = raw * (1 - 0.5 * this.random());
    this.delays.push(delay);
    return delay;
  }

  /** Start again from `base` (after a good event). */
  reset(): void {
    this.failures = 0;
  }
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Follows one SSE endpoint until its end event, a refusal or `close()`. */
export class EventStream {
  readonly backoff: Backoff;
  /** The highest `seq` delivered so far. */
  lastSeq: number;
  state: ConnectionState = 'connecting';
  finished = false;
  private controller = new AbortController();
  private sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private options: IStreamOptions) {
    this.lastSeq = options.after ?? 0;
    this.backoff = new Backoff(
      options.baseDelay ?? 1000,
      options.maxDelay ?? 30000,
      options.random
    );
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.controller.signal.aborted;
  }

  /** Follow the stream; resolves when it has ended (end event, refusal or close). */
  async run(): Promise<void> {
    try {
      while (!this.closed && !this.finished) {
        try {
          await this.readOnce();
        } catch (error) {
          if (error instanceof StreamRefused) {
            this.finished = true;
            this.options.onRefused?.(error);
            break;
          }
          // a network error or a cut connection: retried below
        }
        if (this.closed || this.finished) {
          break;
        }
        this.setState('reconnecting');
        await this.sleep(this.backoff.next(), this.controller.signal);
      }
    } finally {
      this.setState('disconnected');
    }
  }

  /** Stop following (the open request is aborted). */
  close(): void {
    this.controller.abort();
  }

  private async readOnce(): Promise<void> {
    const chunks = await this.options.transport(
      this.lastSeq,
      this.controller.signal
    );
    if (this.closed) {
      return;
    }
    this.setState('connected');
    this.options.onOpen?.();
    const parser = new SSEParser();
    for await (const chunk of chunks) {
      for (const event of parser.feed(chunk)) {
        this.accept(event);
        if (this.finished || this.closed) {
          return;
        }
      }
    }
  }

  /** Deliver one parsed event unless it was seen before. */
  accept(event: ISSEEvent): void {
    let data: any = {};
    try {
      data = event.data ? JSON.parse(event.data) : {};
    } catch {
      data = { content: event.data };
    }
    if (event.event === 'log') {
      const seq = Number(data.seq) || 0;
      if (seq && seq <= this.lastSeq) {
        return;
      }
      this.lastSeq = Math.max(this.lastSeq, seq);
    }
    if (event.event !== 'error') {
      this.backoff.reset();
    }
    if (event.event === this.options.endEvent) {
      this.finished = true;
    }
    this.options.onEvent(event, data);
  }

  private setState(state: ConnectionState): void {
    if (state !== this.state) {
      this.state = state;
      this.options.onState?.(state);
    }
  }
}
