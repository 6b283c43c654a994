import { describe, expect, it } from 'vitest';

import { ILogEntry, IToolRow, RowModel, visibleRange } from '../src/rows';
import {
  cellError,
  cellPrompt,
  insertIndex,
  targetIndex
} from '../src/notebook';

let seq = 0;
const entry = (fields: Partial<ILogEntry>): ILogEntry => ({
  seq: ++seq,
  timestamp: '2026-01-01T00:00:00Z',
  entry_type: 'thinking',
  ...fields
});

describe('RowModel', () => {
  it('folds a call, its output and its result into one row', () => {
    const model = new RowModel();
    const call = model.add(
      entry({
        entry_type: 'tool_call',
        tool: 'run_command',
        call_id: 'c1',
        arguments: { command: 'ls' }
      })
    );
    expect(call!.added).toBe(true);
    model.add(
      entry({ entry_type: 'tool_output', call_id: 'c1', content: 'a\n' })
    );
    const result = model.add(
      entry({
        entry_type: 'tool_result',
        tool: 'run_command',
        call_id: 'c1',
        ok: false,
        content: 'exit 1',
        duration_ms: 12
      })
    );
    expect(result!.added).toBe(false);
    expect(model.rows).toHaveLength(1);
    const row = model.rows[0] as IToolRow;
    expect(row).toMatchObject({
      state: 'error',
      result: 'exit 1',
      output: 'a\n',
      durationMs: 12,
      tool: 'run_command'
    });
    expect(row.version).toBe(2);
  });

  it('gives a call id used again in a later turn a row of its own', () => {
    const model = new RowModel();
    for (const tool of ['write_file', 'run_command']) {
      model.add(entry({ entry_type: 'tool_call', tool, call_id: 'call_0' }));
      model.add(
        entry({
          entry_type: 'tool_result',
          tool,
          call_id: 'call_0',
          ok: true,
          content: tool
        })
      );
    }
    expect(model.rows.map(r => (r as IToolRow).result)).toEqual([
      'write_file',
      'run_command'
    ]);
    expect(new Set(model.rows.map(r => r.key)).size).toBe(2);
  });

  it('keeps the diff of a replaced file', () => {
    const model = new RowModel();
    model.add(
      entry({ entry_type: 'tool_call', tool: 'write_file', call_id: 'w1' })
    );
    model.add(
      entry({
        entry_type: 'tool_result',
        call_id: 'w1',
        ok: true,
        diff: '-a\n+b'
      })
    );
    expect((model.rows[0] as IToolRow).diff).toBe('-a\n+b');
  });

  it('ignores an entry seen before', () => {
    const model = new RowModel();
    const once = entry({ content: 'hm' });
    expect(model.add(once)).not.toBeNull();
    expect(model.add(once)).toBeNull();
    expect(model.rows).toHaveLength(1);
  });

  it('keeps text rows in order and knows the answer', () => {
    const model = new RowModel();
    model.add(entry({ content: 'thinking' }));
    model.add(entry({ entry_type: 'response', content: '**done**' }));
    expect(model.rows.map(r => r.kind)).toEqual(['thinking', 'response']);
    expect(model.answer).toBe('**done**');
  });

  it('marks calls cut short by the end as without result', () => {
    const model = new RowModel();
    model.add(
      entry({ entry_type: 'tool_call', tool: 'run_command', call_id: 'c9' })
    );
    expect(model.finish().map(r => (r as IToolRow).state)).toEqual([
      'no-result'
    ]);
  });

  it('attaches approvals to their call and updates them on decision', () => {
    const model = new RowModel();
    model.add(
      entry({ entry_type: 'tool_call', tool: 'run_command', call_id: 'c2' })
    );
    model.add(
      entry({
        entry_type: 'approval',
        approval: { id: 'a1', call_id: 'c2', status: 'pending' }
      })
    );
    model.add(
      entry({
        entry_type: 'approval',
        approval: { id: 'a1', call_id: 'c2', status: 'allowed' }
      })
    );
    expect(model.rows).toHaveLength(1);
    expect((model.rows[0] as IToolRow).approval!.status).toBe('allowed');
    model.add(entry({ entry_type: 'approval', id: 'a2', status: 'pending' }));
    expect(model.rows.map(r => r.kind)).toEqual(['tool', 'approval']);
  });

  it('holds 1,000 calls and shows the last page', () => {
    const model = new RowModel();
    for (let i = 0; i < 1000; i++) {
      model.add(
        entry({
          entry_type: 'tool_call',
          tool: 'run_command',
          call_id: `k${i}`
        })
      );
      model.add(
        entry({ entry_type: 'tool_result', call_id: `k${i}`, ok: true })
      );
    }
    expect(model.toolCalls).toBe(1000);
    expect(visibleRange(model.rows.length, 200)).toEqual({
      start: 800,
      end: 1000
    });
    expect(visibleRange(5, 200)).toEqual({ start: 0, end: 5 });
  });
});

describe('notebook edits and cell prompts', () => {
  const ids = ['a', 'b', 'c'];
  it('inserts after cell_id, else before index, else at the end', () => {
    expect(insertIndex(ids, { cell_id: 'a' })).toBe(1);
    expect(insertIndex(ids, { index: 0 })).toBe(0);
    expect(insertIndex(ids, {})).toBe(3);
  });
  it('targets cell_id first, then index', () => {
    expect(targetIndex(ids, { cell_id: 'c', index: 0 })).toBe(2);
    expect(targetIndex(ids, { index: 1 })).toBe(1);
    expect(targetIndex(ids, { cell_id: 'zz' })).toBe(-1);
    expect(targetIndex(ids, { index: 7 })).toBe(-1);
  });
  it('puts the cell and its error in the prompt', () => {
    const outputs = [
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: ['\x1b[31mZeroDivisionError\x1b[0m: division by zero']
      }
    ];
    expect(cellError(outputs)).toBe('ZeroDivisionError: division by zero');
    const prompt = cellPrompt({
      path: 'a.ipynb',
      index: 0,
      id: 'x1',
      source: '1/0',
      cellType: 'code',
      outputs
    });
    expect(prompt).toContain('1/0');
    expect(prompt).toContain('ZeroDivisionError: division by zero');
    expect(prompt).toContain('a.ipynb');
  });
});
