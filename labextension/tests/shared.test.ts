import { describe, expect, it } from 'vitest';

import { taskStream } from '../src/shared';

const log = (seq: number) =>
  `id: ${seq}\nevent: log\ndata: ${JSON.stringify({ seq, entry_type: 'thinking' })}\n\n`;

describe('taskStream', () => {
  it('gives every view of a task one stream, replaying it to late views', async () => {
    let opened = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>(resolve => (release = resolve));
    const api: any = {
      transport: () => async () => {
        opened += 1;
        return (async function* () {
          yield log(1) + log(2);
          await gate;
          yield 'event: done\ndata: {"status":"completed"}\n\n';
        })();
      }
    };
    const first: string[] = [];
    const second: string[] = [];
    const stream = taskStream(api, 't1');
    const leaveFirst = stream.subscribe({
      onEvent: (e, d) => first.push(e.event === 'log' ? String(d.seq) : e.event)
    });
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(taskStream(api, 't1')).toBe(stream);
    const leaveSecond = taskStream(api, 't1').subscribe({
      onEvent: (e, d) =>
        second.push(e.event === 'log' ? String(d.seq) : e.event)
    });
    release();
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(opened).toBe(1);
    expect(first).toEqual(['1', '2', 'done']);
    expect(second).toEqual(['1', '2', 'done']);
    leaveFirst();
    leaveSecond();
    expect(taskStream(api, 't1')).not.toBe(stream);
  });
});
