/**
 * The task list: status, age, iterations and cost of each task, a status filter, kept
 * up to date by the list feed (`GET /api/tasks/stream`), read whole only when the feed
 * (re)connects or the filter changes.
 */

import { Widget } from '@lumino/widgets';

import { ITaskSummary, OpenAgentAPI } from './api';
import { TaskFeed } from './feed';
import { clip, formatAge, formatCost, statusText } from './format';
import { button, el } from './rowview';

const STATUSES = ['', 'pending', 'running', 'completed', 'failed', 'cancelled'];
/** Tasks shown in the list. */
const LIMIT = 100;

/** The list of tasks. */
export class TaskList extends Widget {
  readonly filter = el('select', 'jp-mod-styled oa-Filter');
  private rows = el('div', 'oa-TaskRows');
  private tasks = new Map<string, ITaskSummary>();
  private selected: string | null = null;
  private ager = 0;

  constructor(
    private api: OpenAgentAPI,
    private feed: TaskFeed,
    private onSelect: (id: string) => void
  ) {
    super();
    this.addClass('oa-TaskList');
    for (const status of STATUSES) {
      const option = el('option', '', status || 'all statuses');
      option.value = status;
      this.filter.appendChild(option);
    }
    this.filter.setAttribute('aria-label', 'Filter by status');
    this.filter.addEventListener('change', () => void this.reload());
    const bar = el('div', 'oa-ListBar');
    bar.append(
      el('span', 'oa-ListTitle', 'Tasks'),
      this.filter,
      button('Refresh', () => void this.reload(), 'oa-Refresh')
    );
    this.node.append(bar, this.rows);
    feed.tasks.add(this.onTask);
    feed.opened.add(this.onOpened);
    this.ager = window.setInterval(() => this.render(), 30000);
  }

  dispose(): void {
    this.feed.tasks.delete(this.onTask);
    this.feed.opened.delete(this.onOpened);
    window.clearInterval(this.ager);
    super.dispose();
  }

  /** Read the list again. */
  async reload(): Promise<void> {
    try {
      const { tasks } = await this.api.list(this.filter.value, LIMIT);
      this.tasks = new Map(tasks.map(task => [task.id, task]));
      this.render();
    } catch (error) {
      this.rows.replaceChildren(
        el(
          'div',
          'oa-Message',
          `Cannot list tasks: ${(error as Error).message}`
        )
      );
    }
  }

  /** Mark `id` as the chosen task. */
  select(id: string | null): void {
    this.selected = id;
    this.rows.querySelectorAll('.oa-TaskRow').forEach(node => {
      node.classList.toggle(
        'jp-mod-selected',
        (node as HTMLElement).dataset.taskId === id
      );
    });
  }

  private onOpened = (): void => void this.reload();

  private onTask = (task: ITaskSummary): void => {
    const wanted = !this.filter.value || this.filter.value === task.status;
    if (wanted) {
      this.tasks.set(task.id, { ...this.tasks.get(task.id), ...task });
    } else {
      this.tasks.delete(task.id);
    }
    this.render();
  };

  private render(): void {
    const now = Date.now();
    const ordered = [...this.tasks.values()].sort((a, b) =>
      (b.created_at ?? '').localeCompare(a.created_at ?? '')
    );
    const nodes = ordered.slice(0, LIMIT).map(task => this.row(task, now));
    if (!nodes.length) {
      nodes.push(el('div', 'oa-Message', 'No tasks yet.'));
    }
    this.rows.replaceChildren(...nodes);
  }

  private row(task: ITaskSummary, now: number): HTMLElement {
    const node = el('div', 'oa-TaskRow');
    node.dataset.taskId = task.id;
    node.tabIndex = 0;
    node.setAttribute('role', 'button');
    node.classList.toggle('jp-mod-selected', task.id === this.selected);
    const line = el('div', 'oa-TaskRowFigures');
    line.append(
      el('span', `oa-Status oa-Status-${task.status}`, statusText(task.status)),
      el('span', 'oa-Figure', formatAge(task.created_at, now)),
      el('span', 'oa-Figure', `${task.iterations ?? 0} it`),
      el('span', 'oa-Figure', formatCost(task.usage?.cost_usd))
    );
    const text = el('div', 'oa-TaskRowText', clip(task.task, 120));
    text.title = task.task;
    node.append(text, line);
    const choose = () => this.onSelect(task.id);
    node.addEventListener('click', choose);
    node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        choose();
      }
    });
    return node;
  }
}
