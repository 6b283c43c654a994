/** Short texts for figures: ages, durations, costs, arguments. */

/** "4 s", "3 min", "2 h", "5 d" since `iso` (relative to `now` ms). */
export function formatAge(iso: string | null | undefined, now: number): string {
  if (!iso) {
    return '';
  }
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 60) {
    return `${Math.floor(seconds)} s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h`;
  }
  return `${Math.floor(seconds / 86400)} d`;
}

/** "0:07", "12:30", "1:02:03" for a number of seconds. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** "$0.0123" / "$1.20". */
export function formatCost(usd: number | null | undefined): string {
  const value = Number(usd) || 0;
  return value < 1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

/** "850 ms" / "2.4 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "12.3k" for large token counts. */
export function formatTokens(count: number | null | undefined): string {
  const n = Number(count) || 0;
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/** One line for a tool call's arguments: `path=a.py, content=…`. */
export function shortArguments(args: any, limit = 80): string {
  if (args === null || args === undefined) {
    return '';
  }
  if (typeof args !== 'object') {
    return clip(String(args), limit);
  }
  const parts = Object.entries(args).map(([key, value]) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return `${key}=${clip(String(text).replace(/\s+/g, ' '), 40)}`;
  });
  return clip(parts.join(', '), limit);
}

/** `text` cut to `limit` characters with an ellipsis. */
export function clip(text: string, limit: number): string {
  return text.length > limit ? text.slice(0, limit - 1) + '…' : text;
}

/** Seconds between two ISO times (or until `now` ms when `end` is absent). */
export function secondsBetween(
  start: string | null | undefined,
  end: string | null | undefined,
  now: number
): number {
  if (!start) {
    return 0;
  }
  const stop = end ? Date.parse(end) : now;
  return Math.max(0, (stop - Date.parse(start)) / 1000);
}

/** Status marks, as the notebook widget shows them (in fonts every system has). */
const STATUS_MARKS: Record<string, string> = {
  pending: '…',
  running: '…',
  completed: '✔',
  failed: '✘',
  cancelled: '⊘'
};

/** "✔ completed", "… running". */
export function statusText(status: string): string {
  return `${STATUS_MARKS[status] ?? ''} ${status}`.trim();
}
