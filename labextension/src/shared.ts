/**
 * One stream per task per page: the sidebar and every output of the same task share it.
 * A browser opens at most six HTTP/1.1 connections per server, so one open stream per
 * view would soon starve JupyterLab's own requests. A late subscriber gets the events so
 * far replayed; the stream closes when its last subscriber leaves.
 */

import { OpenAgentAPI } from './api';
import { ISSEEvent } from './sse';
import { ConnectionState, EventStream, StreamRefused } from './stream';

/** What one view listens to. */
export interface ISubscriber {
  onEvent: (event: ISSEEvent, data: any) => void;
  onState?: (state: ConnectionState) => void;
  onRefused?: (error: StreamRefused) => void;
}

/** A task's stream and the events it has delivered. */
export class SharedTaskStream {
  readonly events: [ISSEEvent, any][] = [];
  private subscribers = new Set<ISubscriber>();
  private refused: StreamRefused | null = null;
  private stream: EventStream;

  constructor(
    api: OpenAgentAPI,
    readonly taskId: string,
    private onIdle: () => void
  ) {
    this.stream = new EventStream({
      transport: api.transport(`api/task/${taskId}/stream`),
      endEvent: 'done',
      onEvent: (event, data) => {
        this.events.push([event, data]);
        this.subscribers.forEach(s => s.onEvent(event, data));
      },
      onState: state => this.subscribers.forEach(s => s.onState?.(state)),
      onRefused: error => {
        this.refused = error;
        this.subscribers.forEach(s => s.onRefused?.(error));
      }
    });
    void this.stream.run();
  }

  /** True once the task's `done` event came. */
  get finished(): boolean {
    return this.stream.finished;
  }

  /** Listen (the events so far first); returns the function that stops listening. */
  subscribe(subscriber: ISubscriber): () => void {
    this.subscribers.add(subscriber);
    subscriber.onState?.(this.stream.state);
    for (const [event, data] of this.events) {
      subscriber.onEvent(event, data);
    }
    if (this.refused) {
      subscriber.onRefused?.(this.refused);
    }
    return () => {
      this.subscribers.delete(subscriber);
      if (!this.subscribers.size) {
        this.stream.close();
        this.onIdle();
      }
    };
  }
}

const streams = new Map<string, SharedTaskStream>();

/** The page's stream of task `taskId` (opened on first use). */
export function taskStream(
  api: OpenAgentAPI,
  taskId: string
): SharedTaskStream {
  let shared = streams.get(taskId);
  if (!shared) {
    shared = new SharedTaskStream(api, taskId, () => streams.delete(taskId));
    streams.set(taskId, shared);
  }
  return shared;
}
