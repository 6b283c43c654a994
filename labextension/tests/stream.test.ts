import { describe, expect, it } from 'vitest';

import { Backoff, EventStream, StreamRefused, Transport } from '../src/stream';
import { SSEParser } from '../src/sse';

/** A scripted server: each connection gets the next list of chunks (or an error). */
function scripted(connections: (string[] | Error)[]) {
  const seen: number[] = [];
  const transport: Transport = async lastEventId => {
    seen.push(lastEventId);
    const next = connections.shift();
    if (next === undefined) {
      throw new StreamRefused('no more connections', 404);
    }
    if (next instanceof Error) {
      throw next;
    }
    return (async function* () {
      for (const chunk of next) {
        yield chunk;
      }
    })();
  };
  return { transport, seen };
}

const log = (seq: number) =>
  `id: ${seq}\nevent: log\ndata: ${JSON.stringify({ seq, entry_type: 'thinking', content: `e${seq}` })}\n\n`;
const done = 'event: done\ndata: {"status":"completed"}\n\n';

function follow(connections: (string[] | Error)[], after = 0) {
  const server = scripted(connections);
  const events: [string, any][] = [];
  const sleeps: number[] = [];
  const stream = new EventStream({
    transport: server.transport,
    endEvent: 'done',
    after,
    onEvent: (event, data) => events.push([event.event, data]),
    sleep: async ms => {
      sleeps.push(ms);
    },
    random: () => 0
  });
  return { stream, events, sleeps, seen: server.seen };
}

describe('SSEParser', () => {
  it('joins events split across chunks and skips comments', () => {
    const parser = new SSEParser();
    expect(parser.feed('id: 1\nevent: lo')).toEqual([]);
    expect(parser.feed('g\ndata: {"a":1}\n\n: keep-alive\n\n')).toEqual([
      { id: '1', event: 'log', data: '{"a":1}' }
    ]);
    expect(parser.feed('data: x\r\ndata: y\r\n\r\n')).toEqual([
      { event: 'message', data: 'x\ny' }
    ]);
  });
});

describe('EventStream', () => {
  it('resumes with the last seq after a cut and never delivers an entry twice', async () => {
    const { stream, events, seen } = follow([
      [log(1), log(2)],
      [log(2), log(3), done]
    ]);
    await stream.run();
    expect(seen).toEqual([0, 2]);
    expect(
      events.map(([name, data]) => (name === 'log' ? data.seq : name))
    ).toEqual([1, 2, 3, 'done']);
    expect(stream.state).toBe('disconnected');
  });

  it('starts after the entries already shown', async () => {
    const { stream, events, seen } = follow([[log(5), log(6), done]], 5);
    await stream.run();
    expect(seen).toEqual([5]);
    expect(
      events.filter(([name]) => name === 'log').map(([, d]) => d.seq)
    ).toEqual([6]);
  });

  it('doubles the backoff while connections fail and caps it', async () => {
    const failures = Array.from({ length: 7 }, () => new Error('refused'));
    const { stream, sleeps } = follow([...failures, [done]]);
    await stream.run();
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('resets the backoff only after a good event, not after a bare connect', async () => {
    const { stream, sleeps } = follow([
      new Error('down'),
      [], // accepted, then dropped with nothing sent: no reset
      ['event: error\ndata: {}\n\n'], // an error event is not a good event
      [log(1)], // a good event: reset
      new Error('down'),
      [log(2), done]
    ]);
    await stream.run();
    expect(sleeps).toEqual([1000, 2000, 4000, 1000, 2000]);
  });

  it('gives up on a refusal (404) without retrying', async () => {
    const server = scripted([new StreamRefused('HTTP 404', 404)]);
    let refused: StreamRefused | null = null;
    const stream = new EventStream({
      transport: server.transport,
      onEvent: () => undefined,
      onRefused: error => {
        refused = error;
      },
      sleep: async () => undefined
    });
    await stream.run();
    expect(server.seen).toEqual([0]);
    expect(refused!.status).toBe(404);
  });

  it('stops at close() while waiting to reconnect', async () => {
    const server = scripted([new Error('down'), new Error('down')]);
    const stream = new EventStream({
      transport: server.transport,
      onEvent: () => undefined,
      sleep: async () => stream.close()
    });
    await stream.run();
    expect(server.seen).toEqual([0]);
    expect(stream.state).toBe('disconnected');
  });

  it('jitter shortens a delay by at most half', () => {
    const backoff = new Backoff(1000, 30000, () => 1);
    expect(backoff.next()).toBe(500);
    expect(backoff.next()).toBe(1000);
  });
});
