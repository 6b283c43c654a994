/**
 * The "Open Agent" sidebar (id `open-agent-sidebar`): the submit form, the task list
 * and the chosen task's live timeline. The chosen task is remembered in the page's
 * local storage, so a reload opens it again and follows it on.
 */

import { Panel } from '@lumino/widgets';

import { ISubmission, OpenAgentAPI } from './api';
import { TaskFeed } from './feed';
import { IAttachTarget, SubmitForm } from './form';
import { IRowContext } from './rowview';
import { TaskList } from './tasklist';
import { TaskTimeline } from './timeline';

/** The sidebar's widget id and caption (DESIGN.md §12.11). */
export const SIDEBAR_ID = 'open-agent-sidebar';
export const CAPTION = 'Open Agent';
const SELECTED_KEY = 'open-agent:selected-task';

/** What the sidebar needs from the page. */
export interface ISidebarOptions {
  api: OpenAgentAPI;
  feed: TaskFeed;
  renderMarkdown: IRowContext['renderMarkdown'];
  renderOutput: IRowContext['renderOutput'];
  currentFolder: () => string;
  currentNotebook: () => IAttachTarget | null;
  onExport: (taskId: string) => Promise<void>;
}

/** The sidebar panel. */
export class OpenAgentSidebar extends Panel {
  readonly form: SubmitForm;
  readonly list: TaskList;
  timeline: TaskTimeline | null = null;

  constructor(private options: ISidebarOptions) {
    super();
    this.id = SIDEBAR_ID;
    this.title.caption = CAPTION;
    this.addClass('oa-Sidebar');
    this.form = new SubmitForm({
      submit: body => this.submit(body),
      currentFolder: options.currentFolder,
      currentNotebook: options.currentNotebook
    });
    this.list = new TaskList(options.api, options.feed, id =>
      this.showTask(id)
    );
    this.addWidget(this.form);
    this.addWidget(this.list);
    void this.list.reload();
    const remembered = window.localStorage.getItem(SELECTED_KEY);
    if (remembered) {
      this.showTask(remembered);
    }
  }

  /** Submit, then select the new task (the form stays above its timeline). */
  async submit(body: ISubmission): Promise<void> {
    const created = await this.options.api.submit(body);
    this.showTask(created.id);
  }

  /** Show the live timeline of task `id`. */
  showTask(id: string): void {
    if (this.timeline?.taskId === id) {
      return;
    }
    this.timeline?.dispose();
    window.localStorage.setItem(SELECTED_KEY, id);
    this.list.select(id);
    const timeline = new TaskTimeline({
      api: this.options.api,
      taskId: id,
      trusted: true,
      feed: this.options.feed,
      renderMarkdown: this.options.renderMarkdown,
      renderOutput: this.options.renderOutput,
      onExport: this.options.onExport,
      onNotFound: () => window.localStorage.removeItem(SELECTED_KEY)
    });
    this.timeline = timeline;
    this.addWidget(timeline);
    void timeline.start();
  }
}
