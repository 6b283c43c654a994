/**
 * The submit form: a `<textarea>` for the task and folded options (model, backend,
 * max iterations, budget, working dir, attach to the current notebook).
 */

import { Widget } from '@lumino/widgets';

import { ISubmission } from './api';
import { button, el } from './rowview';

/** The notebook a task can be attached to. */
export interface IAttachTarget {
  path: string;
  kernelId: string | null;
}

/** What the form needs from the page. */
export interface IFormOptions {
  submit: (body: ISubmission) => Promise<void>;
  /** The file browser's folder (the default working dir). */
  currentFolder: () => string;
  /** The notebook in focus, if any. */
  currentNotebook: () => IAttachTarget | null;
}

function field(label: string, input: HTMLElement): HTMLLabelElement {
  const node = el('label', 'oa-Field');
  node.append(el('span', 'oa-FieldLabel', label), input);
  return node;
}

function input(type: string, name: string, placeholder = ''): HTMLInputElement {
  const node = el('input', 'jp-mod-styled oa-Input');
  node.type = type;
  node.name = name;
  node.placeholder = placeholder;
  return node;
}

/** The form at the top of the sidebar. */
export class SubmitForm extends Widget {
  readonly text = el('textarea', 'jp-mod-styled oa-TaskInput');
  readonly options = el('details', 'oa-Options');
  private model = input('text', 'model', 'server default');
  private backend = el('select', 'jp-mod-styled oa-Input');
  private approvals = el('select', 'jp-mod-styled oa-Input');
  private iterations = input('number', 'max_iterations', 'server default');
  private budget = input('number', 'budget_cents', 'server default');
  private workingDir = input('text', 'working_dir');
  private attach = el('input', 'oa-Checkbox');
  private attachLabel = el(
    'span',
    'oa-AttachLabel',
    'Attach to the current notebook'
  );
  private pinned: IAttachTarget | null = null;
  private status = el('div', 'oa-FormStatus');
  private submitButton: HTMLButtonElement;

  constructor(private opts: IFormOptions) {
    super({ node: el('form', 'oa-Form') });
    this.text.name = 'task';
    this.text.rows = 3;
    this.text.placeholder =
      'Describe a task, e.g. "Run the tests and fix what fails"';
    for (const value of ['', 'local', 'opencode']) {
      const option = el('option', '', value || 'server default');
      option.value = value;
      this.backend.appendChild(option);
    }
    this.backend.name = 'backend';
    for (const value of ['', 'auto', 'ask', 'read-only']) {
      const option = el('option', '', value || 'server default');
      option.value = value;
      this.approvals.appendChild(option);
    }
    this.approvals.name = 'approvals';
    this.attach.type = 'checkbox';
    this.attach.name = 'attach';
    this.iterations.min = '1';
    this.budget.min = '0';
    this.submitButton = button(
      'Submit',
      () => void this.send(),
      'jp-mod-accept oa-Submit'
    );
    this.submitButton.type = 'submit';
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void this.send();
    });
    this.text.addEventListener('keydown', event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.send();
      }
    });
    this.build();
  }

  private build(): void {
    this.options.appendChild(el('summary', 'oa-OptionsSummary', 'Options'));
    const attach = el('label', 'oa-Attach');
    attach.append(this.attach, this.attachLabel);
    this.options.append(
      field('Model', this.model),
      field('Backend', this.backend),
      field('Approvals', this.approvals),
      field('Max iterations', this.iterations),
      field('Budget (cents)', this.budget),
      field('Working dir', this.workingDir),
      attach
    );
    this.options.addEventListener('toggle', () => this.refreshDefaults());
    const actions = el('div', 'oa-Buttons');
    actions.append(this.submitButton);
    this.node.append(this.text, this.options, actions, this.status);
  }

  /** Show the current folder and notebook as the defaults. */
  refreshDefaults(): void {
    const folder = this.opts.currentFolder();
    this.workingDir.placeholder = folder
      ? `${folder} (file browser)`
      : 'server root';
    const target = this.pinned ?? this.opts.currentNotebook();
    this.attach.disabled = !target;
    this.attachLabel.textContent = target
      ? `Attach to ${target.path}`
      : 'Attach to the current notebook (none open)';
  }

  /** Fill the form (e.g. "Ask Open Agent about this cell") and attach to `target`. */
  prefill(text: string, target: IAttachTarget | null): void {
    this.text.value = text;
    this.pinned = target;
    this.attach.checked = !!target;
    this.options.open = !!target;
    this.refreshDefaults();
    this.text.focus();
  }

  /** The request body from the fields (empty ones are left to the server). */
  body(): ISubmission {
    const body: ISubmission = { task: this.text.value };
    const model = this.model.value.trim();
    if (model) {
      body.model = model;
    }
    if (this.backend.value) {
      body.backend = this.backend.value;
    }
    if (this.approvals.value) {
      body.approvals = this.approvals.value;
    }
    if (this.iterations.value) {
      body.max_iterations = Number(this.iterations.value);
    }
    if (this.budget.value) {
      body.budget_cents = Number(this.budget.value);
    }
    const folder = this.workingDir.value.trim() || this.opts.currentFolder();
    if (folder) {
      body.working_dir = folder;
    }
    const target = this.pinned ?? this.opts.currentNotebook();
    if (this.attach.checked && target) {
      body.notebook = target.path;
      if (target.kernelId) {
        body.kernel_id = target.kernelId;
      }
    }
    return body;
  }

  private async send(): Promise<void> {
    if (!this.text.value.trim()) {
      this.status.textContent = 'Type a task first.';
      return;
    }
    this.submitButton.disabled = true;
    this.status.textContent = 'Submitting…';
    try {
      await this.opts.submit(this.body());
      this.status.textContent = '';
      this.text.value = '';
      this.pinned = null;
      this.attach.checked = false;
    } catch (error) {
      this.status.textContent = `Not submitted: ${(error as Error).message}`;
    } finally {
      this.submitButton.disabled = false;
    }
  }
}
