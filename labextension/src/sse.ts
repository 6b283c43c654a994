/**
 * An incremental parser of Server-Sent Events (text/event-stream), as the HTML
 * standard reads them: `id:`, `event:`, `data:` lines, a blank line ends an event,
 * lines starting with `:` are comments (keep-alives).
 */

/** One parsed event. */
export interface ISSEEvent {
  /** The `id:` of this event, if it had one. */
  id?: string;
  /** The `event:` name ("message" when absent). */
  event: string;
  /** The `data:` lines joined by newlines. */
  data: string;
}

/** Feed text chunks in; get whole events out. */
export class SSEParser {
  private buffer = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];
  private hasField = false;

  /** Parse a chunk; return the events it completed (a partial line waits for the next). */
  feed(chunk: string): ISSEEvent[] {
    this.buffer += chunk;
    const out: ISSEEvent[] = [];
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n', start);
      if (end < 0) {
        break;
      }
      let line = this.buffer.slice(start, end);
      if (line.endsWith('\r')) {
        line = line.slice(0, -1);
      }
      start = end + 1;
      const done = this.line(line);
      if (done) {
        out.push(done);
      }
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string): ISSEEvent | null {
    if (line === '') {
      return this.dispatch();
    }
    if (line.startsWith(':')) {
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    this.hasField = true;
    if (field === 'id') {
      this.id = value;
    } else if (field === 'event') {
      this.event = value;
    } else if (field === 'data') {
      this.data.push(value);
    }
    return null;
  }

  private dispatch(): ISSEEvent | null {
    if (!this.hasField) {
      return null;
    }
    const event: ISSEEvent = {
      event: this.event || 'message',
      data: this.data.join('\n')
    };
    if (this.id !== undefined) {
      event.id = this.id;
    }
    this.id = undefined;
    this.event = '';
    this.data = [];
    this.hasField = false;
    return event;
  }
}
