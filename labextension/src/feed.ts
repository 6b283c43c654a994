/**
 * The page's one follower of `GET /api/tasks/stream` (DESIGN.md §12.7), shared by the
 * sidebar, every task output and the live notebook edits.
 */

import { ITaskSummary, OpenAgentAPI } from './api';
import { ConnectionState, EventStream } from './stream';

type Listener<T> = (value: T) => void;

/** A notebook edit to apply to an open document (DESIGN.md §12.2(2)). */
export interface INotebookEdit {
  edit_id: string;
  task_id: string;
  path: string;
  action: 'insert' | 'replace' | 'delete';
  cell_id?: string | null;
  index?: number | null;
  source?: string | null;
  cell_type?: 'code' | 'markdown' | null;
}

/** Task summaries and notebook edits as they happen. */
export class TaskFeed {
  readonly tasks = new Set<Listener<ITaskSummary>>();
  readonly edits = new Set<Listener<INotebookEdit>>();
  /** Called on every (re)connection: whoever shows a list reads it again. */
  readonly opened = new Set<Listener<void>>();
  readonly states = new Set<Listener<ConnectionState>>();
  private stream: EventStream | null = null;

  constructor(private api: OpenAgentAPI) {}

  /** Connection state of the feed. */
  get state(): ConnectionState {
    return this.stream?.state ?? 'disconnected';
  }

  /** Start following (once). */
  start(): void {
    if (this.stream) {
      return;
    }
    this.stream = new EventStream({
      transport: this.api.transport('api/tasks/stream'),
      onEvent: (event, data) => {
        if (event.event === 'task') {
          this.tasks.forEach(listener => listener(data as ITaskSummary));
        } else if (event.event === 'notebook_edit') {
          this.edits.forEach(listener => listener(data as INotebookEdit));
        }
      },
      onOpen: () => this.opened.forEach(listener => listener()),
      onState: state => this.states.forEach(listener => listener(state))
    });
    void this.stream.run();
  }

  /** Stop following. */
  stop(): void {
    this.stream?.close();
    this.stream = null;
  }
}

let shared: TaskFeed | null = null;

/** The page's feed, started on first use. */
export function taskFeed(api: OpenAgentAPI): TaskFeed {
  if (!shared) {
    shared = new TaskFeed(api);
    shared.start();
  }
  return shared;
}
