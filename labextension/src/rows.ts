/**
 * The timeline's row model: log entries (DESIGN.md §4) folded into rows, one per
 * tool call (its call, streamed output, result, rich outputs and approvals), one per
 * piece of model text, error or notice. Pure data: the widget renders it.
 */

/** A log entry as the API sends it. */
export interface ILogEntry {
  seq: number;
  timestamp: string;
  entry_type: string;
  content?: string;
  tool?: string;
  call_id?: string;
  arguments?: any;
  ok?: boolean;
  duration_ms?: number;
  outputs?: Record<string, any>[];
  [key: string]: any;
}

/** An approval record (DESIGN.md §12.5). */
export interface IApproval {
  id: string;
  call_id?: string;
  tool?: string;
  arguments?: any;
  reason?: string;
  status: string;
  message?: string;
  expires_at?: string;
}

/** Where a tool call is. */
export type ToolState = 'running' | 'ok' | 'error' | 'no-result';

/** One tool call. */
export interface IToolRow {
  kind: 'tool';
  key: string;
  seq: number;
  callId: string;
  tool: string;
  arguments: any;
  state: ToolState;
  result: string;
  output: string;
  durationMs: number | null;
  outputs: Record<string, any>[];
  /** write_file: the unified diff of a replaced text file (DESIGN.md §12.7). */
  diff: string;
  approval: IApproval | null;
  /** Counts changes, so a view re-renders only rows that changed. */
  version: number;
}

/** Model text, the answer, an error or a notice. */
export interface ITextRow {
  kind: 'thinking' | 'response' | 'error' | 'notice';
  key: string;
  seq: number;
  text: string;
  version: number;
}

/** An approval that belongs to no tool call shown. */
export interface IApprovalRow {
  kind: 'approval';
  key: string;
  seq: number;
  approval: IApproval;
  version: number;
}

export type Row = IToolRow | ITextRow | IApprovalRow;

/** What one added entry changed. */
export interface IChange {
  row: Row;
  /** True when the row is new (appended at the end), false when it was updated. */
  added: boolean;
}

const TEXT_KINDS = new Set(['thinking', 'response', 'error', 'notice']);

/** Rows of one task, built entry by entry; an entry seen twice changes nothing. */
export class RowModel {
  readonly rows: Row[] = [];
  private seen = new Set<number>();
  private calls = new Map<string, IToolRow>();
  private approvals = new Map<string, IToolRow | IApprovalRow>();

  /** How many tool calls there are. */
  get toolCalls(): number {
    return this.rows.filter(row => row.kind === 'tool').length;
  }

  /** The last `response` text (the answer), if any. */
  get answer(): string | null {
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const row = this.rows[i];
      if (row.kind === 'response') {
        return row.text;
      }
    }
    return null;
  }

  /** Fold one entry in; null when it was seen already (by `seq`). */
  add(entry: ILogEntry): IChange | null {
    if (entry.seq && this.seen.has(entry.seq)) {
      return null;
    }
    if (entry.seq) {
      this.seen.add(entry.seq);
    }
    switch (entry.entry_type) {
      case 'tool_call':
        return this.toolCall(entry);
      case 'tool_result':
        return this.toolResult(entry);
      case 'tool_output':
        return this.toolOutput(entry);
      case 'approval':
        return this.approval(entry);
      default:
        return this.text(entry);
    }
  }

  /** The task ended: calls still running will get no result. */
  finish(): Row[] {
    const changed: Row[] = [];
    for (const row of this.calls.values()) {
      if (row.kind === 'tool' && row.state === 'running') {
        row.state = 'no-result';
        row.version += 1;
        changed.push(row);
      }
    }
    return changed;
  }

  private append(row: Row): IChange {
    this.rows.push(row);
    return { row, added: true };
  }

  private newCall(entry: ILogEntry, callId: string): IToolRow {
    return {
      kind: 'tool',
      key: `call-${callId}-${entry.seq}`,
      seq: entry.seq,
      callId,
      tool: entry.tool ?? '?',
      arguments: entry.arguments ?? {},
      state: 'running',
      result: '',
      output: '',
      durationMs: null,
      outputs: [],
      diff: '',
      approval: null,
      version: 0
    };
  }

  private toolCall(entry: ILogEntry): IChange {
    const callId = entry.call_id ?? `seq-${entry.seq}`;
    const known = this.calls.get(callId);
    // Call ids are unique within one LLM turn only: a finished call's id may come back.
    if (known && known.state === 'running') {
      known.arguments = entry.arguments ?? known.arguments;
      known.tool = entry.tool ?? known.tool;
      known.version += 1;
      return { row: known, added: false };
    }
    const row = this.newCall(entry, callId);
    this.calls.set(callId, row);
    return this.append(row);
  }

  private callFor(entry: ILogEntry): { row: IToolRow; added: boolean } {
    const callId = entry.call_id ?? `seq-${entry.seq}`;
    const known = this.calls.get(callId);
    if (known) {
      return { row: known, added: false };
    }
    const row = this.newCall(entry, callId);
    this.calls.set(callId, row);
    this.rows.push(row);
    return { row, added: true };
  }

  private toolResult(entry: ILogEntry): IChange {
    const { row, added } = this.callFor(entry);
    row.state = entry.ok === false ? 'error' : 'ok';
    row.result = entry.content ?? '';
    row.durationMs = entry.duration_ms ?? null;
    row.outputs = Array.isArray(entry.outputs) ? entry.outputs : [];
    row.diff = typeof entry.diff === 'string' ? entry.diff : '';
    row.version += 1;
    return { row, added };
  }

  private toolOutput(entry: ILogEntry): IChange {
    const { row, added } = this.callFor(entry);
    row.output += entry.content ?? '';
    row.version += 1;
    return { row, added };
  }

  private approval(entry: ILogEntry): IChange {
    const record: IApproval = entry.approval ?? (entry as any);
    const id = String(record.id ?? `seq-${entry.seq}`);
    const known = this.approvals.get(id);
    if (known) {
      known.approval = { ...known.approval, ...record };
      known.version += 1;
      return { row: known, added: false };
    }
    const call = record.call_id ? this.calls.get(record.call_id) : undefined;
    if (call) {
      call.approval = record;
      call.version += 1;
      this.approvals.set(id, call);
      return { row: call, added: false };
    }
    const row: IApprovalRow = {
      kind: 'approval',
      key: `approval-${id}`,
      seq: entry.seq,
      approval: record,
      version: 0
    };
    this.approvals.set(id, row);
    return this.append(row);
  }

  private text(entry: ILogEntry): IChange {
    const kind = TEXT_KINDS.has(entry.entry_type)
      ? (entry.entry_type as ITextRow['kind'])
      : 'notice';
    const row: ITextRow = {
      kind,
      key: `seq-${entry.seq}`,
      seq: entry.seq,
      text: entry.content ?? '',
      version: 0
    };
    return this.append(row);
  }
}

/** The rows a page shows: the last `count` rows (older ones are behind "Show earlier"). */
export function visibleRange(
  total: number,
  count: number
): { start: number; end: number } {
  return { start: Math.max(0, total - count), end: total };
}
