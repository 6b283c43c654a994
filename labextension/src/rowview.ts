/**
 * DOM for one timeline row (tool call, text, approval). Bodies of tool calls are
 * built only when opened, so a task of 1,000 calls stays cheap to show.
 */

import { IApproval, IToolRow, Row } from './rows';
import { clip, formatDuration, shortArguments } from './format';

/** What rows need from their timeline. */
export interface IRowContext {
  /** Render Markdown (the answer) into `host`. */
  renderMarkdown(host: HTMLElement, text: string): Promise<void>;
  /** Render one rich output (a MIME bundle) into `host`. */
  renderOutput(host: HTMLElement, bundle: Record<string, any>): Promise<void>;
  /** Answer an approval; null when this view may not (untrusted output). */
  answer: ((approval: IApproval, decision: 'allow' | 'deny') => void) | null;
}

/** Longest result shown before "Show all". */
export const FOLD = 2000;

const MARKS: Record<string, string> = {
  running: '…',
  ok: '✔',
  error: '✘',
  'no-result': '⊘'
};

/** `tag` with `className` and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A button with a visible text label. */
export function button(
  label: string,
  onClick: () => void,
  className = ''
): HTMLButtonElement {
  const node = el('button', `jp-Button oa-Button ${className}`, label);
  node.type = 'button';
  node.addEventListener('click', onClick);
  return node;
}

/** The element of `row`. */
export function renderRow(row: Row, ctx: IRowContext): HTMLElement {
  let node: HTMLElement;
  if (row.kind === 'tool') {
    node = renderTool(row, ctx);
  } else if (row.kind === 'approval') {
    node = el('div', 'oa-Row oa-Row-approval');
    node.appendChild(renderApproval(row.approval, ctx));
  } else if (row.kind === 'response') {
    node = el('div', 'oa-Row oa-Row-response');
    void ctx.renderMarkdown(node, row.text);
  } else {
    node = el('div', `oa-Row oa-Row-${row.kind}`, row.text);
  }
  node.dataset.seq = String(row.seq);
  node.dataset.key = row.key;
  return node;
}

function renderTool(row: IToolRow, ctx: IRowContext): HTMLElement {
  const node = el('div', `oa-Row oa-Row-tool oa-State-${row.state}`);
  const details = el('details', 'oa-Call');
  const summary = el('summary', 'oa-CallSummary');
  summary.append(
    el('span', 'oa-Mark', MARKS[row.state] ?? '?'),
    el('span', 'oa-ToolName', row.tool),
    el('span', 'oa-Args', shortArguments(row.arguments)),
    el(
      'span',
      'oa-Duration',
      row.state === 'no-result' ? 'no result' : formatDuration(row.durationMs)
    )
  );
  summary.title = `${row.tool}(${shortArguments(row.arguments, 400)})`;
  details.appendChild(summary);
  details.addEventListener(
    'toggle',
    () => {
      if (details.open && details.childElementCount === 1) {
        details.appendChild(renderToolBody(row, ctx));
      }
    },
    { passive: true }
  );
  node.appendChild(details);
  if (row.outputs.length) {
    const outputs = el('div', 'oa-Outputs');
    row.outputs.forEach(bundle => {
      const host = el('div', 'oa-Output');
      outputs.appendChild(host);
      void ctx.renderOutput(host, bundle);
    });
    node.appendChild(outputs);
  }
  if (row.approval) {
    node.appendChild(renderApproval(row.approval, ctx));
  }
  return node;
}

function renderToolBody(row: IToolRow, ctx: IRowContext): HTMLElement {
  const body = el('div', 'oa-CallBody');
  body.appendChild(el('div', 'oa-Label', 'Arguments'));
  body.appendChild(el('pre', 'oa-Pre', JSON.stringify(row.arguments, null, 2)));
  if (row.output && row.state === 'running') {
    body.appendChild(el('div', 'oa-Label', 'Output so far'));
    body.appendChild(folded(row.output));
  }
  if (row.diff) {
    body.appendChild(el('div', 'oa-Label', 'Changes'));
    body.appendChild(renderDiff(row.diff));
  }
  if (row.state !== 'running') {
    body.appendChild(
      el('div', 'oa-Label', row.state === 'error' ? 'Error' : 'Result')
    );
    body.appendChild(
      folded(
        row.result ||
          (row.state === 'no-result' ? '(no result: the task ended first)' : '')
      )
    );
  }
  return body;
}

/** A unified diff, added and removed lines coloured. */
export function renderDiff(diff: string): HTMLElement {
  const pre = el('pre', 'oa-Pre oa-Diff');
  for (const line of diff.split('\n')) {
    const added = line.startsWith('+') && !line.startsWith('+++');
    const removed = line.startsWith('-') && !line.startsWith('---');
    const kind = added ? 'oa-DiffAdd' : removed ? 'oa-DiffDel' : '';
    pre.appendChild(el('div', kind, line || ' '));
  }
  return pre;
}

/** A `<pre>` of `text`, long text folded with a "Show all" button. */
function folded(text: string): HTMLElement {
  const wrap = el('div', 'oa-Folded');
  const pre = el('pre', 'oa-Pre', clip(text, FOLD));
  wrap.appendChild(pre);
  if (text.length > FOLD) {
    const more = button(
      `Show all (${text.length.toLocaleString()} characters)`,
      () => {
        pre.textContent = text;
        more.remove();
      }
    );
    wrap.appendChild(more);
  }
  return wrap;
}

function renderApproval(approval: IApproval, ctx: IRowContext): HTMLElement {
  const box = el('div', `oa-Approval oa-Approval-${approval.status}`);
  const what = approval.tool
    ? `${approval.tool}(${shortArguments(approval.arguments)})`
    : '';
  box.appendChild(
    el('div', 'oa-ApprovalText', `Approval ${approval.status}: ${what}`)
  );
  if (approval.reason) {
    box.appendChild(el('div', 'oa-ApprovalReason', approval.reason));
  }
  if (approval.status === 'pending') {
    const allow = button(
      'Allow',
      () => ctx.answer?.(approval, 'allow'),
      'oa-Allow'
    );
    const deny = button(
      'Deny',
      () => ctx.answer?.(approval, 'deny'),
      'oa-Deny'
    );
    allow.disabled = deny.disabled = ctx.answer === null;
    if (ctx.answer === null) {
      allow.title = deny.title = 'Trust this notebook to answer from here';
    }
    const buttons = el('div', 'oa-Buttons');
    buttons.append(allow, deny);
    box.appendChild(buttons);
  } else if (approval.message) {
    box.appendChild(el('div', 'oa-ApprovalReason', approval.message));
  }
  return box;
}
