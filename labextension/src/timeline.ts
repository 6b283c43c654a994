/**
 * The live timeline of one task: header (status, iteration, tokens, cost, ticking
 * elapsed time, estimate, connection state, Stop, Export as notebook) and its rows,
 * following the task's SSE stream with resume and backoff. Used by the sidebar and
 * by the renderer of `application/vnd.open-agent.task+json` outputs.
 */

import { Widget } from '@lumino/widgets';

import { APIError, FINAL, ITaskSummary, OpenAgentAPI } from './api';
import { TaskFeed } from './feed';
import {
  clip,
  statusText,
  formatCost,
  formatElapsed,
  formatTokens,
  secondsBetween
} from './format';
import { IApproval, ILogEntry, Row, RowModel, visibleRange } from './rows';
import { button, el, IRowContext, renderRow } from './rowview';
import { SharedTaskStream, taskStream } from './shared';
import { ConnectionState } from './stream';

/** Rows shown at first; "Show earlier" adds as many again. */
export const PAGE = 200;

/** What a timeline needs. */
export interface ITimelineOptions {
  api: OpenAgentAPI;
  taskId: string;
  /** Stop / Allow / Deny act only when true (trusted output, or the sidebar). */
  trusted: boolean;
  feed?: TaskFeed | null;
  renderMarkdown: IRowContext['renderMarkdown'];
  renderOutput: IRowContext['renderOutput'];
  /** "Export as notebook" (absent: no button). */
  onExport?: (taskId: string) => Promise<void>;
  /** The server does not know the task (404). */
  onNotFound?: () => void;
}

/** One task's live view. */
export class TaskTimeline extends Widget {
  readonly model = new RowModel();
  summary: ITaskSummary | null = null;
  private stream: SharedTaskStream | null = null;
  private leave: (() => void) | null = null;
  private ticker = 0;
  private shown = PAGE;
  private elements = new Map<string, HTMLElement>();
  private pending = new Map<string, Row>();
  private frame = 0;
  private ctx: IRowContext;
  private header = el('div', 'oa-Header');
  private figures = el('div', 'oa-Figures');
  private statusNode = el('span', 'oa-Status');
  private elapsedNode = el('span', 'oa-Elapsed');
  private connection = el('span', 'oa-Connection', 'connecting');
  private stopButton: HTMLButtonElement;
  private message = el('div', 'oa-Message');
  private earlier: HTMLButtonElement;
  private list = el('div', 'oa-Rows');
  private final = el('div', 'oa-Final');

  constructor(private options: ITimelineOptions) {
    super();
    this.addClass('oa-Timeline');
    this.node.dataset.taskId = options.taskId;
    this.ctx = {
      renderMarkdown: options.renderMarkdown,
      renderOutput: options.renderOutput,
      answer: options.trusted ? (a, d) => void this.answer(a, d) : null
    };
    this.stopButton = button('Stop', () => void this.stop(), 'oa-Stop');
    this.stopButton.disabled = !options.trusted;
    this.earlier = button(
      'Show earlier',
      () => this.showEarlier(),
      'oa-Earlier'
    );
    this.buildHeader();
    this.earlier.style.display = 'none';
    this.node.append(
      this.header,
      this.message,
      this.earlier,
      this.list,
      this.final
    );
  }

  get taskId(): string {
    return this.options.taskId;
  }

  /** Read the task, then follow its stream. */
  async start(): Promise<void> {
    try {
      this.setSummary(await this.options.api.get(this.taskId, false));
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        this.options.onNotFound?.();
        this.showMessage(`The server does not know task ${this.taskId}.`);
        return;
      }
      this.showMessage(`Cannot read the task: ${(error as Error).message}`);
    }
    this.options.feed?.tasks.add(this.onSummary);
    this.follow();
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.leave?.();
    this.options.feed?.tasks.delete(this.onSummary);
    window.clearInterval(this.ticker);
    cancelAnimationFrame(this.frame);
    super.dispose();
  }

  /** New figures for this task (from the list feed or a read). */
  setSummary(summary: ITaskSummary): void {
    if (summary.id !== this.taskId) {
      return;
    }
    this.summary = { ...this.summary, ...summary };
    this.renderFigures();
  }

  private onSummary = (summary: ITaskSummary): void => this.setSummary(summary);

  private buildHeader(): void {
    const controls = el('div', 'oa-Controls');
    controls.append(this.stopButton);
    if (this.options.onExport) {
      const exporter = button(
        'Export as notebook',
        () => void this.export(),
        'oa-Export'
      );
      controls.append(exporter);
    }
    controls.append(this.connection);
    this.header.append(el('div', 'oa-TaskText'), this.figures, controls);
  }

  private follow(): void {
    this.stream = taskStream(this.options.api, this.taskId);
    this.leave = this.stream.subscribe({
      onEvent: (event, data) => {
        if (event.event === 'log') {
          this.add(data as ILogEntry);
        } else if (event.event === 'done') {
          this.done(data);
        }
      },
      onState: state => this.setConnection(state),
      onRefused: error =>
        this.showMessage(`The stream was refused (${error.message}).`)
    });
  }

  /** Fold an entry in and schedule its row's drawing. */
  add(entry: ILogEntry): void {
    const change = this.model.add(entry);
    if (change) {
      this.schedule(change.row);
    }
  }

  private done(data: any): void {
    this.setSummary({
      ...(this.summary as ITaskSummary),
      ...data,
      id: this.taskId
    });
    this.model.finish().forEach(row => this.schedule(row));
    void this.options.api
      .get(this.taskId, false)
      .then(summary => this.setSummary(summary))
      .catch(() => undefined);
  }

  private schedule(row: Row): void {
    this.pending.set(row.key, row);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => this.flush());
    }
  }

  /** Draw the rows that changed since the last frame. */
  private flush(): void {
    this.frame = 0;
    const { start } = visibleRange(this.model.rows.length, this.shown);
    const first = this.model.rows[start];
    for (const row of this.pending.values()) {
      const old = this.elements.get(row.key);
      const node = renderRow(row, this.ctx);
      if (old) {
        old.replaceWith(node);
        this.elements.set(row.key, node);
      } else if (first && row.seq >= first.seq) {
        this.list.appendChild(node);
        this.elements.set(row.key, node);
      }
    }
    this.pending.clear();
    this.trim(start);
  }

  /** Keep only the visible window of rows in the page. */
  private trim(start: number): void {
    for (let i = 0; i < start; i++) {
      const key = this.model.rows[i].key;
      const node = this.elements.get(key);
      if (!node) {
        break;
      }
      node.remove();
      this.elements.delete(key);
    }
    this.earlier.style.display = start === 0 ? 'none' : '';
    this.earlier.textContent = `Show earlier (${start})`;
  }

  private showEarlier(): void {
    const before = visibleRange(this.model.rows.length, this.shown).start;
    this.shown += PAGE;
    const { start } = visibleRange(this.model.rows.length, this.shown);
    const fragment = document.createDocumentFragment();
    for (let i = start; i < before; i++) {
      const row = this.model.rows[i];
      const node = renderRow(row, this.ctx);
      this.elements.set(row.key, node);
      fragment.appendChild(node);
    }
    this.list.prepend(fragment);
    this.trim(start);
  }

  private renderFigures(): void {
    const s = this.summary;
    if (!s) {
      return;
    }
    const text = this.header.querySelector('.oa-TaskText') as HTMLElement;
    text.textContent = clip(s.task ?? '', 300);
    text.title = s.task ?? '';
    this.statusNode.textContent = statusText(s.status);
    this.statusNode.className = `oa-Status oa-Status-${s.status}`;
    const usage = s.usage ?? {};
    const tokens = (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
    const parts = [
      `iteration ${s.iterations ?? 0}/${s.max_iterations ?? '?'}`,
      `${formatTokens(tokens)} tokens`,
      formatCost(usage.cost_usd)
    ];
    const estimate = s.estimate;
    if (estimate && estimate.iterations !== undefined) {
      parts.push(
        `estimate ~${estimate.iterations} it, ${formatCost(estimate.cost_usd)}`
      );
    }
    this.figures.replaceChildren(
      this.statusNode,
      ...parts.map(part => el('span', 'oa-Figure', part)),
      this.elapsedNode
    );
    this.tick();
    const final = FINAL.has(s.status);
    this.stopButton.disabled = final || !this.options.trusted;
    this.final.replaceChildren();
    if (s.status === 'failed' && s.error) {
      this.final.appendChild(
        el('div', 'oa-Row oa-Row-error', `Failed: ${s.error}`)
      );
    } else if (
      s.status === 'completed' &&
      s.result &&
      this.model.answer === null
    ) {
      const answer = el('div', 'oa-Row oa-Row-response');
      void this.options.renderMarkdown(answer, s.result);
      this.final.appendChild(answer);
    }
  }

  private tick(): void {
    const s = this.summary;
    if (s) {
      const seconds = secondsBetween(s.started_at, s.finished_at, Date.now());
      this.elapsedNode.textContent = formatElapsed(seconds);
      this.elapsedNode.className = 'oa-Figure oa-Elapsed';
    }
  }

  private setConnection(state: ConnectionState): void {
    // A stream that ended with the task is not a lost connection.
    const ended = state === 'disconnected' && !!this.stream?.finished;
    this.connection.textContent = ended ? 'stream ended' : state;
    this.connection.className = `oa-Connection oa-Connection-${ended ? 'ended' : state}`;
  }

  private showMessage(text: string): void {
    this.message.textContent = text;
  }

  private async stop(): Promise<void> {
    this.stopButton.disabled = true;
    try {
      this.setSummary(await this.options.api.stop(this.taskId));
    } catch (error) {
      this.showMessage(`Stop failed: ${(error as Error).message}`);
      this.stopButton.disabled = false;
    }
  }

  private async export(): Promise<void> {
    try {
      await this.options.onExport?.(this.taskId);
    } catch (error) {
      this.showMessage(`Export failed: ${(error as Error).message}`);
    }
  }

  private async answer(
    approval: IApproval,
    decision: 'allow' | 'deny'
  ): Promise<void> {
    try {
      await this.options.api.answerApproval(this.taskId, approval.id, decision);
    } catch (error) {
      this.showMessage(`The answer was not taken: ${(error as Error).message}`);
    }
  }
}
