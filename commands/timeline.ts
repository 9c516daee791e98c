import type { TimelineItem } from '../src/core/fold';
import { formatClock, formatDateTime } from '../src/core/time';
import { escClip, messageText, oneLine } from '../src/slack/blockKit';
import { incidentZone } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { incLabel, requireIncident } from './common';

/** What fits in one Slack text block (3000), with room for the header and the "left out" note. */
export const TIMELINE_BUDGET = 2800;
/** One entry's text is shortened to this after escaping in the listing (the record keeps it whole). */
const ENTRY_MAX = 300;

/** `HH:MM ZONE — [Label] text`, with the date when the incident spans days. */
export function timelineLine(item: TimelineItem, zone: string, withDate: boolean): string {
  const at = withDate ? formatDateTime(item.at, zone) : formatClock(item.at, zone);
  const label = item.label ? `[${item.label}] ` : '';
  return `${at} — ${label}${escClip(oneLine(item.text), ENTRY_MAX)}`;
}

/**
 * The timeline as lines that fit `budget` characters: the first entry (usually detection) and
 * as many of the latest as fit, with a note saying how many were left out in between.
 */
export function renderTimeline(
  items: readonly TimelineItem[],
  zone: string,
  budget = TIMELINE_BUDGET,
): string[] {
  if (items.length === 0) return [];
  const first = items[0].at.setZone(zone);
  const withDate = items.some((i) => !i.at.setZone(zone).hasSame(first, 'day'));
  const lines = items.map((i) => timelineLine(i, zone, withDate));
  const total = lines.reduce((n, l) => n + l.length + 1, 0);
  if (total <= budget) return lines;
  const note = (n: number) => `… ${n} ${n === 1 ? 'entry' : 'entries'} left out …`;
  const head = lines[0];
  let used = head.length + 1 + note(lines.length).length + 1;
  const tail: string[] = [];
  for (let i = lines.length - 1; i >= 1; i--) {
    if (used + lines[i].length + 1 > budget) break;
    used += lines[i].length + 1;
    tail.unshift(lines[i]);
  }
  const left = lines.length - 1 - tail.length;
  return [head, note(left), ...tail];
}

/** `timeline`: the timeline so far, only to the caller. */
export const timelineCommand: CommandModule = {
  name: 'timeline',
  aliases: ['tl'],
  usage: 'timeline',
  summary: 'show the timeline so far (only to you)',
  needsIncident: true,
  async run(_args, ctx) {
    const incident = requireIncident(ctx);
    const zone = incidentZone(ctx);
    const items = incident.state.timeline;
    const header = `*${incLabel(incident)} timeline* — ${escClip(oneLine(incident.state.title), 150)} (${items.length} ${items.length === 1 ? 'entry' : 'entries'})`;
    if (items.length === 0) return { ephemeral: `${header}\nNothing recorded yet.` };
    const lines = renderTimeline(items, zone);
    const footer =
      lines.length < items.length
        ? '\nThe full timeline is in the postmortem draft (`/incident postmortem`).'
        : '';
    return { ephemeral: messageText(`${header}\n${lines.join('\n')}${footer}`) };
  },
};
