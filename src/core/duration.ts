/** Durations in words, through luxon. Seconds are truncated to whole minutes; negatives count as 0. */
import { Duration } from 'luxon';

const MINUTE_MS = 60_000;

/** Whole days, hours and minutes in `ms`, zero units included. */
function parts(ms: number): { days: number; hours: number; minutes: number } {
  const minutes = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / MINUTE_MS) : 0;
  const d = Duration.fromObject({ minutes }).shiftTo('days', 'hours', 'minutes');
  return { days: d.days, hours: d.hours, minutes: d.minutes };
}

/**
 * "2 hours, 15 minutes", "2 hours", "1 day, 2 hours, 30 minutes", "45 minutes", "1 minute";
 * under a minute: "less than a minute". Zero units are left out.
 */
export function humanDuration(ms: number): string {
  const p = parts(ms);
  const nonZero: Partial<typeof p> = {};
  for (const unit of ['days', 'hours', 'minutes'] as const) {
    if (p[unit] !== 0) nonZero[unit] = p[unit];
  }
  if (Object.keys(nonZero).length === 0) return 'less than a minute';
  return Duration.fromObject(nonZero, { locale: 'en' }).toHuman({ listStyle: 'narrow' });
}

/** Compact for Slack cards: "2h 15m", "1d 2h 30m", "45m", "<1m". */
export function shortDuration(ms: number): string {
  const p = parts(ms);
  const out: string[] = [];
  if (p.days) out.push(`${p.days}d`);
  if (p.hours) out.push(`${p.hours}h`);
  if (p.minutes) out.push(`${p.minutes}m`);
  return out.length === 0 ? '<1m' : out.join(' ');
}
