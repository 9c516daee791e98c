import type { Incident } from '../src/app/service';
import { shortDuration } from '../src/core/duration';
import { incidentStart } from '../src/core/metrics';
import { formatIncidentNumber, type Status } from '../src/core/model';
import type { CommandModule } from '../src/slack/ports';
import { escClip, fitLines, LIMITS, oneLine } from '../src/slack/blockKit';

/** Not closed: resolved incidents are listed too (their postmortem is still to be drafted). */
const LISTED: readonly Status[] = ['investigating', 'identified', 'monitoring', 'resolved'];
const MAX_LISTED = 30;

/** `list`: open incidents of this workspace, newest first. */
export const listCommand: CommandModule = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list',
  summary: 'list open incidents',
  needsIncident: false,
  async run(_args, ctx) {
    const records = await ctx.service.list({ team: ctx.team, status: LISTED });
    if (records.length === 0) return { ephemeral: 'No open incidents. 🎉' };
    const shown = records.slice(0, MAX_LISTED);
    const incidents = await Promise.all(shown.map((r) => ctx.service.load(r.id)));
    const lines = incidents.map((i) => line(i, ctx.now.toMillis()));
    // Within one message: as many lines as fit, then "… and N more" (counting those not loaded).
    const head = `*Open incidents (${records.length})*`;
    const body = fitLines(lines, LIMITS.messageText - head.length - 1, { total: records.length });
    return { ephemeral: `${head}\n${body}` };
  },
};

function line(i: Incident, nowMs: number): string {
  const s = i.state;
  const start = incidentStart(s);
  const end = s.resolvedAt?.toMillis() ?? nowMs;
  const duration = start
    ? `${shortDuration(end - start.toMillis())}${s.resolvedAt ? '' : ' so far'}`
    : 'duration unknown';
  const status = s.status === 'resolved' ? 'resolved, not closed yet' : s.status;
  const channel = s.channel ?? i.record.channel;
  return `• *${formatIncidentNumber(i.record.number)}* ${s.severity.toUpperCase()} ${escClip(oneLine(s.title || i.record.title), 100)} — ${status} — ${channel ? `<#${channel}>` : 'no channel'} — ${duration}`;
}
