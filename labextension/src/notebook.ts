/**
 * Notebook actions: "Ask Open Agent about this cell" (the prompt from a cell and its
 * error) and live notebook edits applied to an open document (DESIGN.md §12.2(2)).
 */

import { NotebookPanel } from '@jupyterlab/notebook';

import { INotebookEdit } from './feed';

/** The parts of a cell the prompt is made from. */
export interface ICellInfo {
  path: string;
  index: number;
  id: string;
  source: string;
  cellType: string;
  outputs: any[];
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** The first error output of a cell as text, or '' when it has none. */
export function cellError(outputs: any[]): string {
  const error = outputs.find(output => output?.output_type === 'error');
  if (!error) {
    return '';
  }
  const trace = Array.isArray(error.traceback)
    ? error.traceback.join('\n')
    : '';
  const text = trace || `${error.ename}: ${error.evalue}`;
  return text.replace(ANSI, '').slice(-4000);
}

/** The task text "Ask Open Agent about this cell" prefills. */
export function cellPrompt(cell: ICellInfo): string {
  const fence = cell.cellType === 'markdown' ? '```markdown' : '```python';
  const lines = [
    `About cell ${cell.index + 1} (id ${cell.id}) of the notebook ${cell.path}:`,
    '',
    fence,
    cell.source,
    '```'
  ];
  const error = cellError(cell.outputs);
  if (error) {
    lines.push(
      '',
      'It failed with:',
      '',
      '```',
      error,
      '```',
      '',
      'Explain the error and fix the cell.'
    );
  } else {
    lines.push('', '');
  }
  return lines.join('\n');
}

/** The index an edit targets (`cell_id` wins over `index`); -1 when none matches. */
export function targetIndex(
  ids: string[],
  edit: Pick<INotebookEdit, 'cell_id' | 'index'>
): number {
  if (edit.cell_id) {
    return ids.indexOf(edit.cell_id);
  }
  if (
    edit.index !== null &&
    edit.index !== undefined &&
    edit.index >= 0 &&
    edit.index < ids.length
  ) {
    return edit.index;
  }
  return -1;
}

/** Where an insert goes: after `cell_id`, else before `index`, else at the end. */
export function insertIndex(
  ids: string[],
  edit: Pick<INotebookEdit, 'cell_id' | 'index'>
): number {
  if (edit.cell_id) {
    const at = ids.indexOf(edit.cell_id);
    return at < 0 ? ids.length : at + 1;
  }
  if (edit.index !== null && edit.index !== undefined) {
    return Math.max(0, Math.min(edit.index, ids.length));
  }
  return ids.length;
}

/**
 * Apply `edit` to an open notebook; save only when it had no unsaved changes before.
 * Resolves with `saved`, or throws when the edit does not fit the document.
 */
export async function applyEdit(
  panel: NotebookPanel,
  edit: INotebookEdit
): Promise<boolean> {
  const model = panel.content.model;
  if (!model) {
    throw new Error('the notebook is not loaded');
  }
  const wasDirty = panel.context.model.dirty;
  const shared = model.sharedModel;
  const ids = shared.cells.map(cell => cell.id);
  const cellType = edit.cell_type === 'markdown' ? 'markdown' : 'code';
  if (edit.action === 'insert') {
    shared.insertCell(insertIndex(ids, edit), {
      cell_type: cellType,
      source: edit.source ?? ''
    });
  } else {
    const at = targetIndex(ids, edit);
    if (at < 0) {
      throw new Error(`no cell ${edit.cell_id ?? edit.index} in ${edit.path}`);
    }
    shared.transact(() => {
      shared.deleteCell(at);
      if (edit.action === 'replace') {
        // the cell keeps its id; a code cell loses its outputs
        const cell: any = {
          id: ids[at],
          cell_type: cellType,
          source: edit.source ?? ''
        };
        shared.insertCell(at, cell);
      }
    });
  }
  if (!wasDirty) {
    await panel.context.save();
    return true;
  }
  return false;
}
