/**
 * The data model handed to postmortem templates, and `buildView`, which builds it from an
 * incident's folded state, its metrics and its diagnosis analytics.
 *
 * Conventions for template authors:
 * - Times are pre-formatted in the incident's zone: `HH:MM ZONE`, with the date in front when the
 *   incident spans several days. Raw ISO-8601 UTC values are there too.
 * - Durations are in words ("2 hours, 15 minutes"), with raw milliseconds beside them.
 * - Every fact that may be missing is a {@link Field}: `known` says whether it was recorded,
 *   `text` holds it, and `tbd` says what to ask for. The helpers (`md`, `mdInline`, `mdCell`,
 *   `time`, `datetime`, `duration`) print `_TBD: <tbd>_` for an unknown field, so a draft never
 *   shows an empty string or "undefined".
 * - Strings marked *user text* must be printed through `md`, `mdInline`, `mdCell` or `code`;
 *   templates are compiled with `noEscape`, so printing them raw could break the Markdown.
 *
 * templates/README.md documents this file; it is generated from these types (viewDocs.ts).
 */
import { Info, type DateTime, type Zone } from 'luxon';
import type { Incident } from '../app/service';
import { computeAnalytics, type AnalyticsFigure } from '../core/analytics';
import { humanDuration } from '../core/duration';
import { PAGER_NAMES, type Hypothesis, type IncidentState, type TimelineItem } from '../core/fold';
import { computeMetrics, incidentStart, rootCauseIdentifiedAt } from '../core/metrics';
import { formatIncidentNumber, type Actor, type Severity } from '../core/model';
import { conversationEntries, threads, type Thread } from '../core/conversation';
import { asStatement, claimSentence, shortTitle } from '../core/summary';
import { zoneAbbreviation } from '../core/time';
import { ganttDiagram } from './mermaid';

// ---- building blocks -----------------------------------------------------------------------

/** A fact that may be missing. Helpers print `text`, or `_TBD: <tbd>_` when `known` is false. */
export interface Field {
  /** True when the fact was recorded. */
  known: boolean;
  /** The value, ready to print (user text for text facts); absent when unknown. */
  text?: string;
  /** What to ask for when unknown, e.g. "impact — who was affected, how many, how badly?". */
  tbd: string;
}

/** A moment, pre-formatted in the incident's zone. */
export interface TimeField extends Field {
  /** `HH:MM ZONE` ("14:20 UTC", "14:30 PDT"), prefixed with the date ("2025-02-28 14:20 UTC") when the incident spans days. */
  text?: string;
  /** ISO-8601 UTC ("2025-02-28T14:20:00.000Z"). */
  iso?: string;
  /** `HH:MM ZONE` without the date, always. */
  clock?: string;
  /** `YYYY-MM-DD HH:MM ZONE`, always with the date. */
  dateTime?: string;
  /** `YYYY-MM-DD`, the local date in the incident's zone. */
  date?: string;
}

/** A length of time. */
export interface DurationField extends Field {
  /** In words: "2 hours, 15 minutes", "less than a minute". */
  text?: string;
  /** Milliseconds. */
  ms?: number;
}

/** Someone who took part. */
export interface PersonView {
  /** Slack user id. */
  id: string;
  /** Display name (user text). */
  name: string;
  /** `@name` (user text), as written in action items. */
  handle: string;
}

/** A person who may not be known yet (an owner, the commander). */
export interface PersonField extends Field {
  /** `@name` (user text). */
  text?: string;
  /** Slack user id. */
  id?: string;
  /** Display name (user text). */
  name?: string;
}

// ---- the view --------------------------------------------------------------------------------

/** Everything a postmortem template can print. The root object of every template. */
export interface PostmortemView {
  /** Identity and headline facts. */
  incident: IncidentView;
  /** The Issue Summary: start, end, duration, impact, root cause. */
  summary: SummaryView;
  /** True when the incident's moments fall on more than one calendar day in its zone; times then carry dates. */
  spansDays: boolean;
  /** The timeline in the order things happened (backdated entries land where they happened). */
  timeline: TimelineEntryView[];
  /** Every hypothesis, in the order raised (H1, H2 …). */
  hypotheses: HypothesisView[];
  /** The root cause. */
  rootCause: RootCauseView;
  /** Escalations, in the order they happened. */
  escalations: EscalationView[];
  /** Responder targets paged (`/incident page`), in the order first paged; one per target. */
  pages: PageView[];
  /** Action items (A1, A2 …). */
  actions: ActionItemView[];
  /** Counts of action items. */
  actionCounts: ActionCountsView;
  /** Response metrics (time to detect, escalate, identify, resolve …), each with its formula. */
  metrics: MetricView[];
  /** Diagnosis analytics: how the investigation went. */
  analytics: AnalyticsView;
  /** The Mermaid gantt diagram of the response. */
  diagram: DiagramView;
  /** Prompts for the Lessons Learned section, with hints drawn from the facts. */
  lessons: LessonsView;
  /** Open questions: hypotheses never ruled out or confirmed. */
  openQuestions: OpenQuestionView[];
  /** Everyone who took part, with their roles. */
  participants: ParticipantView[];
  /** Assigned roles (commander, comms, scribe …). */
  roles: RoleView[];
  /** The complete human channel log (every message not deleted), threads with their replies. */
  channelLog: ChannelLogView;
  /** When this draft was generated. */
  generatedAt: TimeField;
  /** The template being rendered: its name, or the path it was given as. */
  template: string;
}

/** Identity and headline facts of the incident. */
export interface IncidentView {
  /** "INC-7". */
  id: string;
  /** 7. */
  number: number;
  /** The title (user text). */
  title: string;
  /** What the incident is about, as given when it was opened (user text). */
  description: Field;
  /** Current lifecycle status: investigating, identified, monitoring, resolved or closed. */
  status: string;
  /** The status capitalized ("Resolved"). */
  statusLabel: string;
  /** True once service was restored. */
  resolved: boolean;
  /** Current severity, upper case ("SEV2"). */
  severity: string;
  /** The highest severity the incident reached ("SEV1"; SEV1 is the highest). */
  peakSeverity: string;
  /** Severity changes after the incident was opened, in order. */
  severityChanges: SeverityChangeView[];
  /** IANA zone the incident is reported in ("America/Los_Angeles"). */
  zone: string;
  /** The zone's abbreviation at the incident's start ("PDT"). */
  zoneAbbreviation: string;
  /** Every abbreviation the draft's times use, in order of first use (["PDT", "PST"] across a fall-back). */
  zoneAbbreviations: string[];
  /** The abbreviations in words: "PDT", "PDT and PST". Empty when the only one is the zone's name (UTC). */
  zoneLabel: string;
  /** The incident commander (the `commander` role). */
  commander: PersonField;
  /** The Slack channel ("#inc-7-checkout"). */
  channel: Field;
  /** When the incident was opened in Slack. */
  openedAt: TimeField;
  /** Number of events in the incident's log. */
  eventCount: number;
}

/** One severity change. */
export interface SeverityChangeView {
  /** When it changed. */
  at: TimeField;
  /** Severity before ("SEV3"). */
  from: string;
  /** Severity after ("SEV2"). */
  to: string;
  /** True when the new severity is higher (e.g. SEV3 → SEV2). */
  raised: boolean;
  /** Why (user text). */
  reason: Field;
  /** Who changed it. */
  by: PersonView;
}

/** The Issue Summary. */
export interface SummaryView {
  /** When the incident began: impact start if known, otherwise detection, otherwise opening. */
  start: TimeField;
  /** Which fact `start` is: "impact start", "detection" or "opening" (unknown when none). */
  startBasis: Field;
  /** When service was restored. */
  end: TimeField;
  /** end − start, in words. */
  duration: DurationField;
  /** When the problem was detected. */
  detectedAt: TimeField;
  /** When impact began, if it was recorded. */
  impactStartedAt: TimeField;
  /** detected − impact start, in words. */
  timeToDetect: DurationField;
  /** Who was affected, how many, how badly (user text). */
  impact: Field;
  /** The root cause as one sentence (user text): never a code block or markup; a confirmed guess phrased as a question is restated, with `rootCauseTbd` asking to confirm the wording. */
  rootCause: Field;
  /** When the one-line root cause was restated from a question: what to check (`_TBD_` prompt). */
  rootCauseTbd: Field;
  /** How service was restored (user text). */
  resolution: Field;
}

/** One line of the timeline. */
export interface TimelineEntryView {
  /** For a conversation entry (kind `message`): who wrote it (user text). */
  author?: string;
  /** For a conversation entry: the number of replies in its thread (folded into it). */
  replies: number;
  /** When it happened. */
  at: TimeField;
  /** `at.text`, for brevity: "14:20 UTC", or "2025-02-28 14:20 UTC" when the incident spans days. */
  when: string;
  /** What kind of entry: opened, detected, impact_started, entry, pinned, hypothesis, ruled_out, confirmed, root_cause, escalation, severity, status, role, impact, resolved; `message` for a channel message where nothing was curated, `shortened` for the marker of a shortened run of them. */
  kind: string;
  /** "Detection", "Impact start", "Misleading path", "Root cause", "Escalation" or "Resolution"; absent for ordinary entries. */
  label?: string;
  /** What happened (user text, with our prefix such as "Hypothesis H1 raised: "). */
  text: string;
  /** Who recorded it (or wrote the pinned message). */
  actor: PersonView;
  /** The hypothesis it concerns ("H2"), if any. */
  hypothesis?: string;
  /** True when it was recorded more than 5 minutes after it happened (a backdated entry; never for pinned messages, detection, impact start or imported events). */
  backdated: boolean;
  /** When the bot recorded it. */
  recordedAt: TimeField;
}

/** One hypothesis and what became of it. */
export interface HypothesisView {
  /** "H1". */
  id: string;
  /** The hypothesis (user text). */
  text: string;
  /** Its short title: first line, at most 80 characters (user text). For headings. */
  title: string;
  /** True when `text` says more than `title` (several lines, code, or longer than the title). */
  hasMore: boolean;
  /** open, ruled_out or confirmed. */
  outcome: string;
  /** "Open", "Ruled out" or "Confirmed". */
  outcomeLabel: string;
  /** True while neither ruled out nor confirmed. */
  isOpen: boolean;
  /** True when ruled out (a misleading path). */
  isRuledOut: boolean;
  /** True when confirmed (the root cause). */
  isConfirmed: boolean;
  /** When it was raised. */
  raisedAt: TimeField;
  /** Who raised it. */
  raisedBy: PersonView;
  /** When it was ruled out or confirmed. */
  outcomeAt: TimeField;
  /** Who ruled it out or confirmed it. */
  outcomeBy: PersonField;
  /** The evidence that ruled it out or confirmed it (user text). */
  evidence: Field;
  /** raised → ruled out / confirmed, in words (unknown while open). */
  timeSpent: DurationField;
}

/** The root cause: a confirmed hypothesis or a stated root cause. */
export interface RootCauseView extends Field {
  /** The root cause (user text). */
  text?: string;
  /** Its short title: first line, at most 80 characters (user text). */
  title?: string;
  /** The confirmed hypothesis it came from ("H3"), if any. */
  hypothesis?: string;
  /** The evidence that confirmed it (user text). */
  evidence: Field;
  /** When it was identified. */
  identifiedAt: TimeField;
  /** Who identified it. */
  identifiedBy: PersonField;
}

/** One escalation. */
export interface EscalationView {
  /** When it happened. */
  at: TimeField;
  /** Who or what team it went to (user text). */
  to: string;
  /** Why (user text). */
  reason: Field;
  /** Who escalated. */
  by: PersonView;
  /** Time from detection to this escalation, in words. */
  sinceDetection: DurationField;
  /** Number of people and user groups invited to the channel. */
  invited: number;
}

/** One paged responder target (every page of a target in an incident is one alert). */
export interface PageView {
  /** When it was first paged. */
  at: TimeField;
  /** The responder target's name. */
  target: string;
  /** "PagerDuty", "Jira Service Management", "Opsgenie" or "webhook". */
  pager: string;
  /** Where it stands: requested, sent, failed, acknowledged or resolved. */
  status: string;
  /** Why it was paged (user text). */
  reason: Field;
  /** Who paged. */
  by: PersonView;
  /** Time from detection to the pager accepting the page, in words. */
  timeToPage: DurationField;
  /** Time from the pager accepting the page to its acknowledgement, in words (PagerDuty webhooks). */
  timeToAcknowledge: DurationField;
  /** Who acknowledged it, as the pager names them. */
  acknowledgedBy: Field;
  /** The pager's answer when the page failed. */
  failure: Field;
  /** Names of the on-call people invited to the channel. */
  oncall: string[];
}

/** One action item. */
export interface ActionItemView {
  /** "A1". */
  id: string;
  /** What to do (user text). */
  text: string;
  /** True when completed. */
  done: boolean;
  /** "[x]" when done, "[ ]" otherwise (a GitHub task-list box). */
  checkbox: string;
  /** Who owns it; `text` is "@name". */
  owner: PersonField;
  /** Due date, YYYY-MM-DD. */
  due: Field;
  /** When it was added. */
  addedAt: TimeField;
  /** When it was completed. */
  completedAt: TimeField;
}

/** Counts of action items. */
export interface ActionCountsView {
  /** All action items. */
  total: number;
  /** Completed ones. */
  done: number;
  /** Not yet completed. */
  open: number;
  /** Without an owner. */
  withoutOwner: number;
  /** Without a due date. */
  withoutDue: number;
}

/** One response metric. */
export interface MetricView {
  /** time_to_detect, time_to_escalate, time_to_identify, time_to_resolve, total_duration or time_on_ruled_out. */
  key: string;
  /** "Time to detect". */
  name: string;
  /** How it is computed ("resolved − detected"). */
  formula: string;
  /** The value in words; `tbd` says what is missing. */
  value: DurationField;
}

/** One diagnosis figure. */
export interface FigureView extends Field {
  /** time_to_first_correct_hypothesis, time_on_misleading_paths, misleading_share, time_to_first_escalation or longest_gap. */
  key: string;
  /** "Time to first correct hypothesis". */
  name: string;
  /** How it is computed. */
  formula: string;
  /** The value in words ("1 hour, 10 minutes") or, for the share, a percentage ("38%"). */
  text?: string;
  /** Milliseconds, for durations. */
  ms?: number;
  /** 0…1, for the share. */
  ratio?: number;
}

/** Diagnosis analytics: how the investigation went. */
export interface AnalyticsView {
  /** Hypotheses raised. */
  raised: number;
  /** Hypotheses ruled out (misleading paths). */
  ruledOut: number;
  /** Hypotheses confirmed. */
  confirmed: number;
  /** Hypotheses still open. */
  open: number;
  /** All figures below, in this order, for a table. */
  figures: FigureView[];
  /** raised (earliest confirmed hypothesis) − detected. */
  timeToFirstCorrectHypothesis: FigureView;
  /** Σ (ruled out − raised) over ruled-out hypotheses. */
  timeOnMisleadingPaths: FigureView;
  /** Time on misleading paths ÷ total duration, as a percentage. */
  misleadingShare: FigureView;
  /** First escalation − detected. */
  timeToFirstEscalation: FigureView;
  /** The longest stretch with no timeline entry between detection and resolution. */
  longestGap: FigureView;
  /** Where the longest gap was. */
  gap: GapView;
}

/** Where the longest timeline gap was. */
export interface GapView {
  /** Start of the gap. */
  from: TimeField;
  /** End of the gap. */
  to: TimeField;
  /** The entry that opens the gap (user text; "detection" when it starts at detection). */
  after: Field;
  /** The entry that closes the gap (user text; "resolution" when it ends at resolution). */
  before: Field;
}

/** The Mermaid diagram. */
export interface DiagramView {
  /** True when there is something to draw (detection, escalation, resolution or a hypothesis). */
  known: boolean;
  /** The Mermaid source, without the fence; safe to print raw inside a fenced `mermaid` code block. */
  source: string;
  /** What to record to get a diagram. */
  tbd: string;
}

/** Lessons Learned prompts. The bot records no lessons, so these are always to be written; the hints come from the facts. */
export interface LessonsView {
  /** What went well. */
  wentWell: Field;
  /** What went wrong. */
  wentWrong: Field;
  /** Where we got lucky. */
  lucky: Field;
  /** Lessons learned, in general. */
  learned: Field;
}

/** An open question: a hypothesis neither ruled out nor confirmed. */
export interface OpenQuestionView {
  /** The hypothesis ("H4"). */
  id: string;
  /** The hypothesis (user text). */
  text: string;
  /** Its short title: first line, at most 80 characters (user text). */
  title: string;
  /** When it was raised. */
  raisedAt: TimeField;
  /** Who raised it. */
  raisedBy: PersonView;
}

/** One participant. */
export interface ParticipantView {
  /** Slack user id. */
  id: string;
  /** Display name (user text). */
  name: string;
  /** `@name` (user text). */
  handle: string;
  /** Roles held ("commander"), possibly none. */
  roles: string[];
}

/** The complete human channel log. */
export interface ChannelLogView {
  /** Messages in it, replies included. */
  count: number;
  /** Threads in the order they started. */
  entries: LogEntryView[];
}

/** One message of the channel log. */
export interface LogEntryView {
  /** When it was written. */
  at: TimeField;
  /** `at.text`, or the date and time when the incident spans days. */
  when: string;
  /** Who wrote it (user text). */
  author: string;
  /** The message (user text; print with `mdEntry`). */
  text: string;
  /** Files attached, by name (user text), comma-separated; empty when none. */
  files: string;
  /** True when it was edited. */
  edited: boolean;
  /** Replies in its thread (each without replies of its own). */
  replies: LogEntryView[];
}

/** One assigned role. */
export interface RoleView {
  /** "commander". */
  role: string;
  /** "Commander". */
  label: string;
  /** Who holds it. */
  person: PersonView;
}

// ---- prompts ---------------------------------------------------------------------------------

/** The `_TBD: …_` prompts for missing facts, with the command that records each fact. */
export const PROMPTS = {
  title: 'title — what broke, in a few words?',
  description: 'description — what was the problem, as first seen?',
  commander: 'incident commander — who led the response? (`/incident role commander @name`)',
  channel: 'incident channel',
  openedAt: 'when the incident was opened',
  start: 'start — when did the problem begin? (`/incident impact <time> <text>`)',
  startBasis: 'which fact the start is based on',
  end: 'end — when was service restored? (`/incident resolve <time> <how>`)',
  duration: 'duration — needs both the start and the end',
  detectedAt: 'detection time — when was the problem noticed?',
  impactStartedAt:
    'impact start — when did users start to be affected? (`/incident impact <time> <text>`)',
  impact: 'impact — who was affected, how many, how badly? (`/incident impact <text>`)',
  rootCause:
    'root cause — what caused it? (`/incident confirm H<n>` or `/incident root-cause <text>`)',
  resolution: 'resolution — what restored service? (`/incident resolve <how>`)',
  rootCauseEvidence: 'evidence — what confirmed the root cause?',
  identifiedAt: 'when the root cause was identified',
  identifiedBy: 'who identified the root cause',
  evidenceOpen: 'evidence — still open: what would rule it out or confirm it?',
  evidenceConfirmed: 'evidence — what confirmed it?',
  outcomeAt: 'still open',
  outcomeBy: 'still open',
  timeSpent: 'still open',
  escalationReason: 'reason for escalating',
  sinceDetection: 'no detection time',
  owner: 'owner',
  due: 'due date',
  completedAt: 'not done yet',
  gapAfter: 'the entry before the gap',
  gapBefore: 'the entry after the gap',
  diagram:
    'diagram — record detection, hypotheses, escalations and resolution to draw the response',
  wentWell: 'what went well?',
  wentWrong: 'what went wrong?',
  lucky: 'where did we get lucky?',
  learned: 'lessons learned — what will we do differently?',
} as const;

// ---- building --------------------------------------------------------------------------------

export interface BuildViewOptions {
  /** The moment the draft is generated (open hypotheses of unresolved incidents run to it). */
  now: DateTime;
  /** The template name or path, passed through to `template`. */
  template?: string;
}

const BACKDATED_MS = 5 * 60_000;
/**
 * Entries whose time is by nature earlier than their recording (a pinned message keeps its own
 * time, impact start and detection are given as past times), so they are never flagged.
 */
const NEVER_BACKDATED = new Set<string>(['pinned', 'impact_started', 'detected', 'opened']);
const MINUTE_MS = 60_000;

const known = (text: string | undefined, tbd: string): Field =>
  text !== undefined && text.trim() !== '' ? { known: true, text, tbd } : { known: false, tbd };

const unknownTime = (tbd: string): TimeField => ({ known: false, tbd });

const durationField = (ms: number | undefined, tbd: string): DurationField =>
  ms === undefined ? { known: false, tbd } : { known: true, text: humanDuration(ms), ms, tbd };

const person = (a: Actor): PersonView => ({ id: a.id, name: a.name, handle: `@${a.name}` });

const personField = (a: Actor | undefined, tbd: string): PersonField =>
  a ? { known: true, text: `@${a.name}`, id: a.id, name: a.name, tbd } : { known: false, tbd };

const sevLabel = (s: Severity): string => s.toUpperCase();

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** A minute's strings in the report zone, and its UTC ISO form up to the seconds. */
interface Parts {
  clock: string;
  dateTime: string;
  date: string;
  isoMinute: string;
}

/**
 * Formats times in one zone, memoized per minute: a 5,000-event timeline has few distinct
 * minutes. The zone's offset and abbreviation (the costly parts: Intl) are memoized per minute
 * and per UTC offset; the strings are those of formatClock / formatDateTime in core/time.ts.
 */
class TimeFormatter {
  private readonly cache = new Map<number, Parts>();
  private readonly abbreviations = new Map<number, string>();
  /** The zone's offset at the start of each UTC minute looked at. */
  private readonly offsets = new Map<number, number>();
  private readonly zoneObject: Zone;
  constructor(
    private readonly zone: string,
    public spansDays: boolean,
  ) {
    this.zoneObject = Info.normalizeZone(zone);
  }

  /**
   * The zone's UTC offset at `t` in minutes, exactly `t.setZone(zone).offset`, which costs an
   * Intl call per instant. When the offset is the same at the start of `t`'s UTC minute and at
   * the start of the next one, it holds through the minute (no zone changes its offset twice
   * within a minute), so one Intl call per minute start serves every instant. In a minute with a
   * transition inside or at its end, computed for `t` itself.
   */
  offset(t: DateTime): number {
    // luxon's setZone keeps a DateTime already in the zone as it is, offset included.
    if (t.zone.equals(this.zoneObject)) return t.offset;
    const ms = t.toMillis();
    const minute = Math.floor(ms / MINUTE_MS);
    const first = this.offsetAtMinute(minute);
    return first === this.offsetAtMinute(minute + 1) ? first : this.zoneObject.offset(ms);
  }

  private offsetAtMinute(minute: number): number {
    let o = this.offsets.get(minute);
    if (o === undefined) {
      o = this.zoneObject.offset(minute * MINUTE_MS);
      this.offsets.set(minute, o);
    }
    return o;
  }

  private parts(t: DateTime): Parts {
    const ms = t.toMillis();
    const minute = Math.floor(ms / MINUTE_MS);
    let p = this.cache.get(minute);
    if (!p) {
      const offset = this.offset(t);
      // The wall-clock fields as luxon derives them (tsToObj): UTC fields of the shifted instant.
      const local = new Date(ms + offset * MINUTE_MS);
      let abbr = this.abbreviations.get(offset);
      if (abbr === undefined) {
        abbr = zoneAbbreviation(t, this.zone);
        this.abbreviations.set(offset, abbr);
      }
      const date = `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}`;
      const clock = `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())} ${abbr}`;
      // "2025-03-11T14:20:" of "2025-03-11T14:20:00.000Z" (the tail is always "SS.sssZ").
      const isoMinute = new Date(minute * MINUTE_MS).toISOString().slice(0, -7);
      p = { clock, dateTime: `${date} ${clock}`, date, isoMinute };
      this.cache.set(minute, p);
    }
    return p;
  }

  field(t: DateTime | undefined, tbd: string): TimeField {
    if (!t) return unknownTime(tbd);
    const p = this.parts(t);
    // Date's ISO form is luxon's UTC ISO form ("2025-03-11T14:20:00.000Z"); its minute is cached.
    const inMinute = t.toMillis() - Math.floor(t.toMillis() / MINUTE_MS) * MINUTE_MS;
    const iso = `${p.isoMinute}${pad2(Math.floor(inMinute / 1000))}.${pad3(inMinute % 1000)}Z`;
    return {
      known: true,
      text: this.spansDays ? p.dateTime : p.clock,
      iso,
      clock: p.clock,
      dateTime: p.dateTime,
      date: p.date,
      tbd,
    };
  }

  date(t: DateTime): string {
    return this.parts(t).date;
  }
}

/** The zone to report in: the incident's, or UTC when it is not a valid zone. */
function reportZone(s: IncidentState, at: DateTime): string {
  return at.setZone(s.zone).isValid ? s.zone : 'UTC';
}

/**
 * The root cause as one sentence for summary lines: the sentence of its prose that states the
 * claim (the first guess or question, else the first sentence; never a code fence or markup). A confirmed guess ("Maybe the alias points at the old index?") becomes
 * the team's statement ("The alias points at the old index."), and a question that cannot be
 * restated is quoted; both come with a TBD asking to confirm the wording.
 */
function rootCauseSentence(
  text: string,
  hypothesis: string | undefined,
): { text: string; tbd?: string } {
  const sentence = claimSentence(text);
  const { statement, changed } = asStatement(sentence);
  if (!changed && statement) return { text: statement };
  const from = hypothesis ? `hypothesis ${hypothesis}` : 'the root cause';
  if (statement) {
    return { text: statement, tbd: `confirm the wording: restated from ${from} (“${sentence}”)` };
  }
  return {
    text: `The team confirmed ${from}: “${sentence}”`,
    tbd: 'state the root cause as a sentence',
  };
}

/** Every zone abbreviation used at these moments, in time order, and them in words. */
function zoneNames(
  moments: readonly DateTime[],
  zone: string,
  fmt: TimeFormatter,
): { zoneAbbreviations: string[]; zoneLabel: string } {
  const byOffset = new Map<number, { at: number; abbr: string }>();
  for (const t of moments) {
    const offset = fmt.offset(t);
    const prev = byOffset.get(offset);
    if (!prev || t.toMillis() < prev.at) {
      byOffset.set(offset, { at: t.toMillis(), abbr: prev?.abbr ?? zoneAbbreviation(t, zone) });
    }
  }
  const abbrs = [...new Set([...byOffset.values()].sort((a, b) => a.at - b.at).map((x) => x.abbr))];
  const label =
    abbrs.length <= 1 ? (abbrs[0] ?? '') : `${abbrs.slice(0, -1).join(', ')} and ${abbrs.at(-1)}`;
  return { zoneAbbreviations: abbrs, zoneLabel: label === zone ? '' : label };
}

/** The timeline with the conversation where nothing was curated (core/conversation.ts). */
function withConversation(
  entries: TimelineEntryView[],
  s: IncidentState,
  ts: readonly Thread[],
  fmt: TimeFormatter,
): TimelineEntryView[] {
  const extra: TimelineEntryView[] = conversationEntries(s, ts).map((c) => {
    const at = fmt.field(c.at, PROMPTS.openedAt);
    if (c.kind === 'shortened') {
      const from = fmt.field(c.from, '').text ?? '';
      const to = fmt.field(c.to, '').text ?? '';
      return {
        at,
        when: at.text ?? '',
        kind: 'shortened',
        text: `… ${c.count} more ${c.count === 1 ? 'message' : 'messages'} (${from === to ? from : `${from} to ${to}`}) not shown here: see the channel log at the end`,
        replies: 0,
        actor: { id: '', name: '', handle: '' },
        backdated: false,
        recordedAt: at,
      };
    }
    const m = c.message;
    const name = m.userName ?? m.user;
    return {
      at,
      when: at.text ?? '',
      kind: 'message',
      author: name,
      text: m.text || filesText(m) || '(no text)',
      replies: c.replies,
      actor: { id: m.user, name, handle: `@${name}` },
      backdated: false,
      recordedAt: at,
    };
  });
  if (extra.length === 0) return entries;
  // Stable merge by time: curated entries first at the same instant.
  const out: TimelineEntryView[] = [];
  let j = 0;
  for (const e of entries) {
    const t = e.at.iso ?? '';
    while (j < extra.length && (extra[j].at.iso ?? '') < t) out.push(extra[j++]);
    out.push(e);
  }
  while (j < extra.length) out.push(extra[j++]);
  return out;
}

function filesText(m: { files: readonly { name: string }[] }): string {
  return m.files.map((f) => f.name).join(', ');
}

function channelLogView(ts: readonly Thread[], fmt: TimeFormatter): ChannelLogView {
  const entry = (m: Thread['head']): LogEntryView => {
    const at = fmt.field(m.at, PROMPTS.openedAt);
    return {
      at,
      when: at.text ?? '',
      author: m.userName ?? m.user,
      text: m.text,
      files: filesText(m),
      edited: m.edited,
      replies: [],
    };
  };
  return {
    count: ts.reduce((n, t) => n + 1 + t.replies.length, 0),
    entries: ts.map((t) => {
      const head = entry(t.head);
      head.replies = t.replies.map(entry);
      return head;
    }),
  };
}

/** Builds the view of an incident for templates. Pure apart from reading `opts.now`. */
export function buildView(incident: Incident, opts: BuildViewOptions): PostmortemView {
  const s = incident.state;
  const now = opts.now.toUTC();
  const zone = reportZone(s, now);
  const start = incidentStart(s);
  const fmt = new TimeFormatter(zone, false);

  // Does the incident span days? Look at every moment the draft prints.
  const moments: DateTime[] = [];
  for (const t of [start, s.detectedAt, s.resolvedAt]) if (t) moments.push(t);
  for (const item of s.timeline) moments.push(item.at);
  for (const h of s.hypotheses) {
    moments.push(h.raisedAt);
    if (h.outcomeAt) moments.push(h.outcomeAt);
  }
  for (const e of s.escalations) moments.push(e.at);
  for (const m of s.messages) if (!m.deleted) moments.push(m.at);
  const dates = new Set(moments.map((t) => fmt.date(t)));
  const spansDays = dates.size > 1;
  fmt.spansDays = spansDays;

  const metrics = computeMetrics(s);
  const analytics = computeAnalytics(s);
  const metricMs = (key: string): number | undefined => metrics.find((m) => m.key === key)?.ms;

  // ---- incident
  const severityChanges: SeverityChangeView[] = [];
  for (let i = 1; i < s.severityHistory.length; i += 1) {
    const prev = s.severityHistory[i - 1];
    const cur = s.severityHistory[i];
    severityChanges.push({
      at: fmt.field(cur.at, PROMPTS.openedAt),
      from: sevLabel(prev.severity),
      to: sevLabel(cur.severity),
      raised: cur.severity < prev.severity,
      reason: known(cur.reason, 'reason for the change'),
      by: person(cur.by),
    });
  }
  const peak = [s.severity, ...s.severityHistory.map((h) => h.severity)].reduce((a, b) =>
    b < a ? b : a,
  );
  const channelName = s.channelName ? `#${s.channelName.replace(/^#/, '')}` : s.channel;
  const incidentView: IncidentView = {
    id: formatIncidentNumber(incident.record.number),
    number: incident.record.number,
    title: s.title || incident.record.title || formatIncidentNumber(incident.record.number),
    description: known(s.description, PROMPTS.description),
    status: s.status,
    statusLabel: capitalize(s.status),
    resolved: s.resolvedAt !== undefined,
    severity: sevLabel(s.severity),
    peakSeverity: sevLabel(peak),
    severityChanges,
    zone,
    zoneAbbreviation: zoneAbbreviation(start ?? now, zone),
    ...zoneNames(moments.length ? moments : [start ?? now], zone, fmt),
    commander: personField(s.roles.commander, PROMPTS.commander),
    channel: known(channelName, PROMPTS.channel),
    openedAt: fmt.field(s.openedAt, PROMPTS.openedAt),
    eventCount: s.eventCount,
  };

  // ---- summary
  const startBasis = s.impactStartedAt
    ? 'impact start'
    : s.detectedAt
      ? 'detection'
      : s.openedAt
        ? 'opening'
        : undefined;
  const oneLine = s.rootCause
    ? rootCauseSentence(s.rootCause.text, s.rootCause.hypothesis)
    : undefined;
  const summary: SummaryView = {
    start: fmt.field(start, PROMPTS.start),
    startBasis: known(startBasis, PROMPTS.startBasis),
    end: fmt.field(s.resolvedAt, PROMPTS.end),
    duration: durationField(metricMs('total_duration'), PROMPTS.duration),
    detectedAt: fmt.field(s.detectedAt, PROMPTS.detectedAt),
    impactStartedAt: fmt.field(s.impactStartedAt, PROMPTS.impactStartedAt),
    timeToDetect: durationField(
      metricMs('time_to_detect'),
      metrics.find((m) => m.key === 'time_to_detect')?.missing || PROMPTS.impactStartedAt,
    ),
    impact: known(s.impact, PROMPTS.impact),
    rootCause: known(oneLine?.text, PROMPTS.rootCause),
    rootCauseTbd: oneLine?.tbd
      ? { known: false, tbd: oneLine.tbd }
      : { known: true, text: '', tbd: '' },
    resolution: known(s.resolution, PROMPTS.resolution),
  };

  // ---- timeline
  const recordedAtBySeq = new Map<number, DateTime>();
  for (const e of incident.events) recordedAtBySeq.set(e.seq, e.recordedAt);
  const messageThreads = threads(s.messages);
  const timeline = withConversation(
    s.timeline.map((item) => timelineEntry(item, fmt, recordedAtBySeq)),
    s,
    messageThreads,
    fmt,
  );

  // ---- hypotheses
  const hypotheses = s.hypotheses.map((h) => hypothesisView(h, fmt));

  // ---- root cause
  const rc = s.rootCause;
  const identifiedAt = rootCauseIdentifiedAt(s);
  const identifiedBy = rc
    ? (s.hypotheses.find((h) => h.id === rc.hypothesis && h.outcome === 'confirmed')?.outcomeBy ??
      rc.by)
    : undefined;
  const rootCause: RootCauseView = {
    ...known(rc?.text, PROMPTS.rootCause),
    ...(rc ? { title: shortTitle(rc.text) } : {}),
    ...(rc?.hypothesis ? { hypothesis: rc.hypothesis } : {}),
    evidence: known(rc?.evidence, PROMPTS.rootCauseEvidence),
    identifiedAt: fmt.field(identifiedAt, PROMPTS.identifiedAt),
    identifiedBy: personField(identifiedBy, PROMPTS.identifiedBy),
  };

  // ---- escalations
  const escalations: EscalationView[] = [...s.escalations]
    .sort((a, b) => a.at.toMillis() - b.at.toMillis())
    .map((e) => ({
      at: fmt.field(e.at, PROMPTS.openedAt),
      to: e.to,
      reason: known(e.reason, PROMPTS.escalationReason),
      by: person(e.by),
      sinceDetection: durationField(
        s.detectedAt ? Math.max(0, e.at.toMillis() - s.detectedAt.toMillis()) : undefined,
        PROMPTS.sinceDetection,
      ),
      invited: e.users.length + e.groups.length,
    }));

  // ---- pages
  const pages: PageView[] = s.pages.map((p) => ({
    at: fmt.field(p.requestedAt, PROMPTS.openedAt),
    target: p.target,
    pager: PAGER_NAMES[p.pager],
    status: p.status,
    reason: known(p.reason, PROMPTS.escalationReason),
    by: person(p.requestedBy),
    timeToPage: durationField(
      s.detectedAt && p.sentAt && !p.dryRun
        ? Math.max(0, p.sentAt.toMillis() - s.detectedAt.toMillis())
        : undefined,
      'time to page',
    ),
    timeToAcknowledge: durationField(
      p.sentAt && p.acknowledgedAt
        ? Math.max(0, p.acknowledgedAt.toMillis() - p.sentAt.toMillis())
        : undefined,
      'time to acknowledge',
    ),
    acknowledgedBy: known(p.acknowledgedBy, 'who acknowledged the page'),
    failure: known(p.failure?.reason, 'why the page failed'),
    oncall: p.oncall.map((u) => u.name),
  }));

  // ---- actions
  const actions: ActionItemView[] = s.actions.map((a) => ({
    id: a.id,
    text: a.text,
    done: a.done,
    checkbox: a.done ? '[x]' : '[ ]',
    owner: personField(a.owner, `owner for ${a.id}`),
    due: known(a.due, `due date for ${a.id}`),
    addedAt: fmt.field(a.addedAt, PROMPTS.openedAt),
    completedAt: fmt.field(a.done ? a.completedAt : undefined, PROMPTS.completedAt),
  }));
  const actionCounts: ActionCountsView = {
    total: actions.length,
    done: actions.filter((a) => a.done).length,
    open: actions.filter((a) => !a.done).length,
    withoutOwner: actions.filter((a) => !a.owner.known).length,
    withoutDue: actions.filter((a) => !a.due.known).length,
  };

  // ---- metrics
  // A sum over no ruled-out hypotheses is "none", not "less than a minute".
  const noneRuledOut = s.hypotheses.every((h) => h.outcome !== 'ruled_out');
  const NONE = 'none (no hypothesis was ruled out)';
  const metricViews: MetricView[] = metrics.map((m) => {
    const value = durationField(m.ms, m.missing || 'missing');
    if (m.key === 'time_on_ruled_out' && noneRuledOut) value.text = NONE;
    return { key: m.key, name: m.name, formula: m.formula, value };
  });

  // ---- analytics
  const fig = (f: AnalyticsFigure): FigureView => {
    const base = { key: f.key, name: f.name, formula: f.formula, tbd: f.missing || 'missing' };
    if (f.ratio !== undefined) {
      return { ...base, known: true, text: `${Math.round(f.ratio * 100)}%`, ratio: f.ratio };
    }
    if (f.ms !== undefined) {
      const none = f.key === 'time_on_misleading_paths' && noneRuledOut;
      return { ...base, known: true, text: none ? NONE : humanDuration(f.ms), ms: f.ms };
    }
    return { ...base, known: false };
  };
  const g = analytics.longestGap;
  const analyticsView: AnalyticsView = {
    raised: analytics.hypotheses.raised,
    ruledOut: analytics.hypotheses.ruledOut,
    confirmed: analytics.hypotheses.confirmed,
    open: analytics.hypotheses.open,
    figures: [],
    timeToFirstCorrectHypothesis: fig(analytics.timeToFirstCorrectHypothesis),
    timeOnMisleadingPaths: fig(analytics.timeOnMisleadingPaths),
    misleadingShare: fig(analytics.misleadingShare),
    timeToFirstEscalation: fig(analytics.timeToFirstEscalation),
    longestGap: fig(g),
    gap: {
      from: fmt.field(g.from, g.missing || PROMPTS.gapAfter),
      to: fmt.field(g.to, g.missing || PROMPTS.gapBefore),
      after: known(
        g.ms === undefined ? undefined : g.after ? g.after.text : 'detection',
        g.missing || PROMPTS.gapAfter,
      ),
      before: known(
        g.ms === undefined ? undefined : g.before ? g.before.text : 'resolution',
        g.missing || PROMPTS.gapBefore,
      ),
    },
  };
  analyticsView.figures = [
    analyticsView.timeToFirstCorrectHypothesis,
    analyticsView.timeOnMisleadingPaths,
    analyticsView.misleadingShare,
    analyticsView.timeToFirstEscalation,
    analyticsView.longestGap,
  ];

  // ---- diagram
  const source = ganttDiagram(s, {
    now,
    title: `${incidentView.id} ${incidentView.title}`,
  });
  const diagram: DiagramView = {
    known: source !== undefined,
    source: source ?? '',
    tbd: PROMPTS.diagram,
  };

  // ---- lessons: prompts with hints from the facts
  const hint = (prompt: string, facts: string[]): Field => ({
    known: false,
    tbd: facts.length ? `${prompt} (${facts.join('; ')})` : prompt,
  });
  const wrong: string[] = [];
  if (analytics.hypotheses.ruledOut > 0) {
    wrong.push(
      `${analytics.hypotheses.ruledOut} misleading ${analytics.hypotheses.ruledOut === 1 ? 'path' : 'paths'} took ${humanDuration(analytics.timeOnMisleadingPaths.ms ?? 0)}`,
    );
  }
  if (g.ms !== undefined && g.ms >= 15 * MINUTE_MS) {
    wrong.push(`nothing was recorded for ${humanDuration(g.ms)}`);
  }
  const well: string[] = [];
  const tte = analytics.timeToFirstEscalation.ms;
  if (tte !== undefined) well.push(`first escalation ${humanDuration(tte)} after detection`);
  const ttfc = analytics.timeToFirstCorrectHypothesis.ms;
  if (ttfc !== undefined)
    well.push(`the correct hypothesis was raised ${humanDuration(ttfc)} after detection`);
  const lessons: LessonsView = {
    wentWell: hint(PROMPTS.wentWell, well),
    wentWrong: hint(PROMPTS.wentWrong, wrong),
    lucky: hint(PROMPTS.lucky, []),
    learned: hint(PROMPTS.learned, []),
  };

  // ---- open questions
  const openQuestions: OpenQuestionView[] = hypotheses
    .filter((h) => h.isOpen)
    .map((h) => ({
      id: h.id,
      text: h.text,
      title: h.title,
      raisedAt: h.raisedAt,
      raisedBy: h.raisedBy,
    }));

  // ---- people
  const roleEntries = Object.entries(s.roles).sort(
    ([a], [b]) => roleOrder(a) - roleOrder(b) || a.localeCompare(b),
  );
  const roles: RoleView[] = roleEntries.map(([role, actor]) => ({
    role,
    label: capitalize(role),
    person: person(actor),
  }));
  const participants: ParticipantView[] = s.participants.map((p) => ({
    ...person(p),
    roles: roleEntries.filter(([, a]) => a.id === p.id).map(([r]) => r),
  }));

  return {
    incident: incidentView,
    summary,
    spansDays,
    timeline,
    hypotheses,
    rootCause,
    escalations,
    pages,
    actions,
    actionCounts,
    metrics: metricViews,
    analytics: analyticsView,
    diagram,
    lessons,
    openQuestions,
    participants,
    roles,
    channelLog: channelLogView(messageThreads, fmt),
    generatedAt: fmt.field(now, 'generation time'),
    template: opts.template ?? 'default',
  };
}

const ROLE_ORDER = ['commander', 'comms', 'scribe'];
function roleOrder(role: string): number {
  const i = ROLE_ORDER.indexOf(role);
  return i === -1 ? ROLE_ORDER.length : i;
}

function timelineEntry(
  item: TimelineItem,
  fmt: TimeFormatter,
  recordedAtBySeq: Map<number, DateTime>,
): TimelineEntryView {
  const at = fmt.field(item.at, PROMPTS.openedAt);
  const recorded = recordedAtBySeq.get(item.seq) ?? item.at;
  return {
    at,
    when: at.text ?? '',
    kind: item.kind,
    ...(item.label ? { label: item.label } : {}),
    text: item.text,
    replies: 0,
    actor: person(item.actor),
    ...(item.hypothesis ? { hypothesis: item.hypothesis } : {}),
    backdated:
      !NEVER_BACKDATED.has(item.kind) &&
      item.source !== 'import' &&
      recorded.toMillis() - item.at.toMillis() > BACKDATED_MS,
    recordedAt: fmt.field(recorded, PROMPTS.openedAt),
  };
}

function hypothesisView(h: Hypothesis, fmt: TimeFormatter): HypothesisView {
  const outcomeLabel =
    h.outcome === 'confirmed' ? 'Confirmed' : h.outcome === 'ruled_out' ? 'Ruled out' : 'Open';
  return {
    id: h.id,
    text: h.text,
    title: shortTitle(h.text),
    hasMore: shortTitle(h.text) !== h.text.trim(),
    outcome: h.outcome,
    outcomeLabel,
    isOpen: h.outcome === 'open',
    isRuledOut: h.outcome === 'ruled_out',
    isConfirmed: h.outcome === 'confirmed',
    raisedAt: fmt.field(h.raisedAt, PROMPTS.openedAt),
    raisedBy: person(h.raisedBy),
    outcomeAt: fmt.field(h.outcomeAt, PROMPTS.outcomeAt),
    outcomeBy: personField(h.outcomeBy, PROMPTS.outcomeBy),
    evidence: known(
      h.evidence,
      h.outcome === 'open' ? PROMPTS.evidenceOpen : PROMPTS.evidenceConfirmed,
    ),
    timeSpent: durationField(h.timeSpentMs, PROMPTS.timeSpent),
  };
}
