/**
 * The App Home tab of one user, as a Block Kit `home` view. Pure: incidents (folded) and the
 * viewer in, the view out; the publisher (home.ts) loads the incidents and calls views.publish.
 *
 * Sections, in order: a Declare button; the open incidents the viewer is in (opened it, holds a
 * role, or did something recorded in it); all open incidents; the viewer's open action items,
 * each with a Done button; closed incidents whose drafts await review (closed in the last
 * REVIEW_DAYS days, with what the close-time review still finds missing).
 *
 * Slack allows at most 100 blocks in a view: each list is cut to its share, and a cut list ends
 * with "… and N more". `buildHomeView` guarantees `blocks.length <= MAX_HOME_BLOCKS`.
 */
import type { DateTime } from 'luxon';
import type { Incident } from '../app/service';
import { humanDuration } from '../core/duration';
import { formatIncidentNumber } from '../core/model';
import { reviewDraft } from '../core/review';
import { escapeSlackText } from './text';

export const MAX_HOME_BLOCKS = 100;
/** Closed incidents stay in "Drafts awaiting review" this many days after closing. */
export const REVIEW_DAYS = 14;

export const HOME_ACTIONS = {
  declare: 'incident_home_declare',
  done: 'incident_home_action_done',
} as const;

export interface HomeInput {
  userId: string;
  /** Open and recently closed incidents of the viewer's workspace (any order). */
  incidents: Incident[];
  now: DateTime;
  gapMinutes?: number;
}

type Block = Record<string, unknown>;

const esc = escapeSlackText;
const label = (i: Incident): string => formatIncidentNumber(i.record.number);
const isOpen = (i: Incident): boolean =>
  i.record.status !== 'closed' && i.state.status !== 'closed';

/** Whether the viewer is in the incident: opener, role holder, or a participant in the record. */
export function isInvolved(i: Incident, userId: string): boolean {
  const s = i.state;
  return (
    s.openedBy?.id === userId ||
    Object.values(s.roles).some((u) => u.id === userId) ||
    s.participants.some((p) => p.id === userId)
  );
}

function incidentLine(i: Incident, now: DateTime): string {
  const s = i.state;
  const where = s.channel ? ` · <#${s.channel}>` : '';
  const since = s.openedAt ? ` · open ${humanDuration(now.diff(s.openedAt).toMillis())}` : '';
  const commander = s.roles.commander ? ` · commander ${esc(s.roles.commander.name)}` : '';
  return `*${label(i)}* ${s.severity.toUpperCase()} · ${s.status} — ${esc(s.title)}${where}${since}${commander}`;
}

const section = (text: string): Block => ({
  type: 'section',
  text: { type: 'mrkdwn', text: text.length > 3000 ? `${text.slice(0, 2999)}…` : text },
});
const header = (text: string): Block => ({
  type: 'header',
  text: { type: 'plain_text', text },
});
const context = (text: string): Block => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text }],
});

interface List {
  title: string;
  empty: string;
  rows: Block[];
}

export function buildHomeView(input: HomeInput): { type: 'home'; blocks: Block[] } {
  const { userId, now } = input;
  const byNewest = [...input.incidents].sort((a, b) => b.record.number - a.record.number);
  const open = byNewest.filter(isOpen);
  const mine = open.filter((i) => isInvolved(i, userId));

  const actions: Block[] = [];
  for (const i of byNewest) {
    for (const a of i.state.actions) {
      if (a.done || a.owner?.id !== userId) continue;
      const due = a.due
        ? ` · due ${a.due}${a.due < (now.toISODate() ?? '') ? ' ⚠️ overdue' : ''}`
        : '';
      actions.push({
        type: 'section',
        text: { type: 'mrkdwn', text: `*${label(i)} ${a.id}* ${esc(a.text)}${due}`.slice(0, 3000) },
        accessory: {
          type: 'button',
          action_id: HOME_ACTIONS.done,
          text: { type: 'plain_text', text: 'Done' },
          style: 'primary',
          value: `${i.record.id}|${a.id}`,
        },
      });
    }
  }

  const reviewSince = now.minus({ days: REVIEW_DAYS });
  const review = byNewest
    .filter((i) => !isOpen(i) && i.state.closedAt && i.state.closedAt >= reviewSince)
    .map((i) => {
      const findings = reviewDraft(i.state, { gapMinutes: input.gapMinutes });
      const missing = findings.length
        ? `${findings.length} gap${findings.length === 1 ? '' : 's'} to fill: ${findings
            .map((f) => f.code.replace(/_/g, ' '))
            .join(', ')}`
        : 'nothing missing';
      return section(
        `*${label(i)}* — ${esc(i.state.title)}${i.state.channel ? ` · <#${i.state.channel}>` : ''} · ${missing}`,
      );
    });

  const lists: List[] = [
    {
      title: 'Incidents you are in',
      empty: 'None open right now.',
      rows: mine.map((i) => section(incidentLine(i, now))),
    },
    {
      title: 'All open incidents',
      empty: 'No open incidents. 🎉',
      rows: open.map((i) => section(incidentLine(i, now))),
    },
    { title: 'Your open action items', empty: 'Nothing assigned to you.', rows: actions },
    {
      title: 'Drafts awaiting review',
      empty: `No incident closed in the last ${REVIEW_DAYS} days.`,
      rows: review,
    },
  ];

  const top: Block[] = [
    header('Incidents'),
    {
      type: 'actions',
      block_id: 'home_top',
      elements: [
        {
          type: 'button',
          action_id: HOME_ACTIONS.declare,
          text: { type: 'plain_text', text: 'Declare an incident' },
          style: 'danger',
        },
      ],
    },
    context(`Updated ${now.toUTC().toFormat("yyyy-MM-dd HH:mm 'UTC'")}`),
  ];
  // Each list takes a header and a divider, plus one block for "… and N more" when it is cut.
  const fixed = top.length + lists.length * 2;
  const shares = allocate(
    lists.map((l) => Math.max(1, l.rows.length)),
    MAX_HOME_BLOCKS - fixed,
  );
  const blocks: Block[] = [...top];
  lists.forEach((l, k) => {
    blocks.push({ type: 'divider' }, header(l.title));
    if (l.rows.length === 0) {
      blocks.push(context(l.empty));
      return;
    }
    const share = shares[k];
    if (l.rows.length <= share) {
      blocks.push(...l.rows);
    } else {
      const shown = Math.max(0, share - 1);
      blocks.push(...l.rows.slice(0, shown), context(`… and ${l.rows.length - shown} more`));
    }
  });
  return { type: 'home', blocks };
}

/**
 * Splits `budget` blocks among lists wanting `wants` blocks: everyone gets what they want when it
 * fits; otherwise the budget is shared out one block at a time to the lists still wanting more.
 */
export function allocate(wants: number[], budget: number): number[] {
  const got = wants.map(() => 0);
  let left = budget;
  let progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (let k = 0; k < wants.length && left > 0; k++) {
      if (got[k] < wants[k]) {
        got[k] += 1;
        left -= 1;
        progress = true;
      }
    }
  }
  return got;
}
