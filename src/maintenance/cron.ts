/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week), as the
 * seed's pg_cron jobs use them: `*`, numbers, lists `a,b`, ranges `a-b`, steps `* /n`
 * and `a-b/n`; day of week 0-7 (0 and 7 are Sunday). As in cron, when both day fields
 * are restricted a day matching either is a match. Times are UTC.
 */
export class CronSchedule {
  private readonly fields: Set<number>[];
  private readonly dayOfMonthAny: boolean;
  private readonly dayOfWeekAny: boolean;

  constructor(readonly text: string) {
    const parts = text.trim().split(/\s+/);
    if (parts.length !== 5) throw new CronError(`"${text}" has ${parts.length} fields; a cron schedule has five: minute hour day-of-month month day-of-week`);
    const ranges: [number, number, string][] = [
      [0, 59, 'minute'],
      [0, 23, 'hour'],
      [1, 31, 'day of month'],
      [1, 12, 'month'],
      [0, 7, 'day of week'],
    ];
    this.fields = parts.map((part, i) => parseField(part, ...ranges[i]!));
    // Sunday is 0 and 7.
    if (this.fields[4]!.has(7)) this.fields[4]!.add(0);
    this.dayOfMonthAny = parts[2] === '*';
    this.dayOfWeekAny = parts[4] === '*';
  }

  matches(date: Date): boolean {
    const [minute, hour, dom, month, dow] = this.fields as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
    if (!minute.has(date.getUTCMinutes()) || !hour.has(date.getUTCHours()) || !month.has(date.getUTCMonth() + 1)) return false;
    const domOk = dom.has(date.getUTCDate());
    const dowOk = dow.has(date.getUTCDay());
    if (this.dayOfMonthAny || this.dayOfWeekAny) return domOk && dowOk;
    return domOk || dowOk;
  }

  /** The scheduled minutes in (after, upTo], oldest first (at most `limit`). */
  due(after: Date, upTo: Date, limit = 10): Date[] {
    const out: Date[] = [];
    const start = Math.floor(after.getTime() / 60_000) + 1;
    const end = Math.floor(upTo.getTime() / 60_000);
    for (let m = start; m <= end && out.length < limit; m++) {
      const at = new Date(m * 60_000);
      if (this.matches(at)) out.push(at);
    }
    return out;
  }
}

export class CronError extends Error {}

function parseField(part: string, min: number, max: number, what: string): Set<number> {
  const values = new Set<number>();
  for (const item of part.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!match) throw new CronError(`${what} "${item}" is not a number, a range a-b, * or a step /n`);
    const step = match[4] === undefined ? 1 : Number(match[4]);
    const low = match[1] === '*' ? min : Number(match[2]);
    // "a/n" means from a to the end, every n.
    const high = match[1] === '*' ? max : match[3] === undefined ? (match[4] === undefined ? low : max) : Number(match[3]);
    if (low < min || high > max || low > high || step < 1) throw new CronError(`${what} "${item}" is outside ${min}-${max}`);
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}
