/**
 * The Open Agent REST + SSE API (README "The HTTP API") through JupyterLab's
 * ServerConnection: the page's own authentication (cookie + XSRF, or the token).
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ILogEntry } from './rows';
import { StreamRefused, Transport } from './stream';

/** Usage figures of a task. */
export interface IUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  cost_usd?: number;
}

/** One row of `GET /api/tasks` (and `event: task` of the list stream). */
export interface ITaskSummary {
  id: string;
  status: string;
  task: string;
  model?: string;
  backend?: string;
  working_dir?: string;
  max_iterations?: number;
  budget_cents?: number;
  iterations?: number;
  result?: string | null;
  error?: string | null;
  estimate?: Record<string, any> | null;
  created_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  usage?: IUsage;
  notebook?: string | null;
  kernel_id?: string | null;
}

/** `GET /api/task/{id}`. */
export interface ITask extends ITaskSummary {
  log?: ILogEntry[];
}

/** The body of `POST /api/task`. */
export interface ISubmission {
  task: string;
  model?: string;
  backend?: string;
  working_dir?: string;
  max_iterations?: number;
  budget_cents?: number;
  kernel_id?: string;
  notebook?: string;
  approvals?: string;
}

/** An error answer, with its HTTP status. */
export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** The final statuses. */
export const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** Talks to one Jupyter server (the page's). */
export class OpenAgentAPI {
  readonly settings: ServerConnection.ISettings;

  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  /** The full URL of `path` (relative to the server's base URL). */
  url(path: string): string {
    return URLExt.join(this.settings.baseUrl, path);
  }

  /** One JSON request; an error answer becomes `APIError` with its message. */
  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await ServerConnection.makeRequest(
      this.url(path),
      init,
      this.settings
    );
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const message = data?.error ?? data?.message ?? response.statusText;
      throw new APIError(String(message), response.status);
    }
    return data as T;
  }

  list(
    status = '',
    limit = 100
  ): Promise<{ tasks: ITaskSummary[]; total: number }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (status) {
      query.set('status', status);
    }
    return this.request(`api/tasks?${query}`);
  }

  get(id: string, log = true): Promise<ITask> {
    return this.request(`api/task/${id}${log ? '' : '?log=false'}`);
  }

  submit(body: ISubmission): Promise<{ id: string; status: string }> {
    return this.request('api/task', {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  stop(id: string): Promise<ITask> {
    return this.request(`api/task/${id}/stop`, { method: 'POST' });
  }

  answerApproval(
    taskId: string,
    approvalId: string,
    decision: 'allow' | 'deny'
  ): Promise<any> {
    return this.request(`api/task/${taskId}/approvals/${approvalId}`, {
      method: 'POST',
      body: JSON.stringify({ decision })
    });
  }

  /** `GET /api/task/{id}/notebook`: the task as a notebook (JSON). */
  exportNotebook(id: string): Promise<Record<string, any>> {
    return this.request(`api/task/${id}/notebook`);
  }

  /** `POST /api/notebook_edits/{edit_id}` (DESIGN.md §12.2(2)). */
  answerEdit(editId: string, saved: boolean): Promise<any> {
    return this.request(`api/notebook_edits/${editId}`, {
      method: 'POST',
      body: JSON.stringify({ applied: true, saved })
    });
  }

  /** A transport for `EventStream` on `path` (fetch with `Last-Event-ID`). */
  transport(path: string): Transport {
    return async (lastEventId, signal) => {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (lastEventId) {
        headers['Last-Event-ID'] = String(lastEventId);
      }
      const response = await ServerConnection.makeRequest(
        this.url(path),
        { headers, signal, cache: 'no-store' },
        this.settings
      );
      if (!response.ok) {
        const retry =
          response.status >= 500 || [408, 429].includes(response.status);
        if (!retry) {
          throw new StreamRefused(`HTTP ${response.status}`, response.status);
        }
        throw new Error(`HTTP ${response.status}`);
      }
      return readText(response);
    };
  }
}

/** A response body as text chunks. */
async function* readText(response: Response): AsyncIterable<string> {
  if (!response.body) {
    yield await response.text();
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        return;
      }
      yield decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}
