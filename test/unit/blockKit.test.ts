/**
 * Block Kit limits on every surface the bot builds, from hostile long input: 10,000-character
 * texts full of `&`, `<`, `>` (escaping makes them up to five times longer), emoji with
 * modifiers and joiners, Slack markup and newlines; 600 hypotheses (500 still open), 500
 * timeline gaps, 300 incomplete action items. Each surface's JSON is checked against the limits
 * by test/helpers/blockKitLimits.ts, which writes Slack's numbers out on its own.
 */
import { DateTime } from 'luxon';
import { closeCommand, closeSummary, reviewBlocks } from '../../commands/close';
import { helpText } from '../../commands/index';
import { listCommand } from '../../commands/list';
import { postmortemCommand } from '../../commands/postmortem';
import { startModal } from '../../commands/start';
import { timelineCommand } from '../../commands/timeline';
import type { Incident } from '../../src/app/service';
import { reviewDraft } from '../../src/core/review';
import {
  andMore,
  clipMrkdwn,
  clipPlain,
  escClip,
  fitLines,
  LIMITS,
} from '../../src/slack/blockKit';
import type { CommandContext, SlackOps } from '../../src/slack/ports';
import { buildStatusCard } from '../../src/slack/statusCard';
import { escapeSlackText } from '../../src/slack/text';
import { messageViolations, modalViolations } from '../helpers/blockKitLimits';
import { IncidentBuilder } from '../helpers/incidentBuilder';

const PIECES = [
  '&',
  '<',
  '>',
  '&amp;',
  '<!channel>',
  '<@U123|x>',
  '👩‍👩‍👧‍👦',
  '🇺🇸',
  '👍🏽',
  '😀',
  '`',
  '*',
  '\n',
  'é',
  '日本',
  'a',
  ' ',
  '&&&<<<>>>',
];

/** Deterministic hostile text of at least `n` characters (well-formed UTF-16). */
function hostile(n: number, seed = 0): string {
  let s = '';
  for (let i = seed; s.length < n; i++) s += PIECES[(i * 7 + seed) % PIECES.length];
  return s;
}

const T0 = DateTime.fromISO('2025-03-01T00:00:00Z', { zone: 'utc' });
const GAPS = 500;
const HYPOTHESES = 600;
const RULED_OUT = 100;
const ACTIONS = 300;

/** The worst incident: everything long, many of everything, 500 quiet gaps. */
function hostileIncident(): Incident {
  const b = new IncidentBuilder({ date: '2025-03-01', zone: 'Asia/Kolkata' });
  b.as({ id: 'U0HOSTILE', name: hostile(500, 3) });
  b.opened(T0, hostile(10_000, 1), 'sev1');
  b.detected(T0);
  b.role(T0, 'commander', { id: 'U0CMD', name: hostile(10_000, 2) });
  for (let i = 0; i < HYPOTHESES; i++) b.hypothesis(T0.plus({ seconds: i }), hostile(10_000, i));
  for (let i = 1; i <= RULED_OUT; i++) {
    b.ruleOut(`H${i}`, T0.plus({ minutes: 11, seconds: i }), hostile(2000, i));
  }
  for (let i = 0; i < ACTIONS; i++) b.action(T0.plus({ minutes: 12 }), hostile(10_000, i));
  // 501 entries 40 minutes apart: 500 gaps longer than 30 minutes.
  for (let i = 1; i <= GAPS; i++) b.log(T0.plus({ minutes: 40 * i }), hostile(10_000, i));
  b.resolve(T0.plus({ minutes: 40 * GAPS + 41 }), hostile(10_000, 9));
  return b.incident();
}

const incident = hostileIncident();
const NOW = T0.plus({ days: 30 });

function ctx(over: Partial<CommandContext> = {}): CommandContext {
  const slack = {
    upload: async () => 'F1',
    post: async () => ({ ts: '1.0' }),
  } as unknown as SlackOps;
  return {
    team: 'T1',
    channel: 'C0INC',
    // The commander (close is theirs to run).
    user: { id: 'U0CMD', name: hostile(500, 3), tz: 'Asia/Kolkata' },
    service: {
      list: async () => Array.from({ length: 40 }, () => incident.record),
      load: async () => incident,
      draftPostmortem: async () => ({ incident, markdown: '# draft' }),
    } as unknown as CommandContext['service'],
    slack,
    settings: { channelPrefix: 'inc', defaultZone: 'UTC', template: 'default' },
    now: NOW,
    incident,
    ...over,
  };
}

describe('the hostile incident is as hostile as intended', () => {
  it('has the sizes the surfaces must cope with', () => {
    const s = incident.state;
    expect(s.title.length).toBeGreaterThanOrEqual(10_000);
    expect(escapeSlackText(s.title).length).toBeGreaterThan(15_000);
    expect(s.hypotheses.filter((h) => h.outcome === 'open')).toHaveLength(HYPOTHESES - RULED_OUT);
    expect(s.actions).toHaveLength(ACTIONS);
    const gaps = reviewDraft(s).find((f) => f.code === 'timeline_gap');
    expect(gaps?.message).toContain(`${GAPS} gaps`);
  });
});

describe('every surface stays within Block Kit limits', () => {
  it('the status card (header 150, fields 2,000, sections 3,000, fallback text)', () => {
    const card = buildStatusCard(incident, NOW);
    expect(messageViolations(card)).toEqual([]);
    const json = JSON.stringify(card.blocks);
    // The cut lists say how much is left out.
    expect(json).toContain(andMore(HYPOTHESES - RULED_OUT - 5));
    expect(card.text).toContain(andMore(HYPOTHESES - RULED_OUT - 20));
    expect(card.blocks[0]).toMatchObject({ type: 'header', block_id: 'incident_status:inc-1' });
  });

  it('the close-time review with 500 gaps: every finding shown, buttons last', async () => {
    const reply = await closeCommand.run('', ctx());
    expect(reply.blocks).toBeDefined();
    const msg = { text: reply.ephemeral, blocks: reply.blocks };
    expect(messageViolations(msg)).toEqual([]);
    const blocks = reply.blocks as { type: string; elements?: { action_id: string }[] }[];
    const last = blocks[blocks.length - 1];
    expect(last.type).toBe('actions');
    expect(last.elements?.map((e) => e.action_id)).toEqual(['close:anyway', 'close:back']);
    const json = JSON.stringify(blocks);
    for (const f of reviewDraft(incident.state)) {
      // Every finding has its section (the first words of its message are there).
      expect(json).toContain(escapeSlackText(f.message.slice(0, 30)));
    }
    expect(json).toContain(`${GAPS} gaps`);
    expect(json).toContain(`… and ${GAPS - 10} more`);
  });

  it('the review stays within the message budget however many findings and items', () => {
    const many = Array.from({ length: 80 }, (_, i) => ({
      code: 'timeline_gap' as const,
      message: hostile(10_000, i),
    }));
    const { text, blocks } = reviewBlocks(incident, many, `${'x'.repeat(36)}|default`);
    expect(messageViolations({ text, blocks })).toEqual([]);
    const last = blocks[blocks.length - 1] as { type: string };
    expect(last.type).toBe('actions');
  });

  it('the closing summary posted in the channel', () => {
    const text = closeSummary(ctx(), incident, 'postmortem-INC-1.md');
    expect(messageViolations({ text })).toEqual([]);
    expect(text).toContain(andMore(RULED_OUT - 10));
    expect(text).toContain(andMore(ACTIONS - 10));
    expect(text.endsWith('Postmortem draft: postmortem-INC-1.md')).toBe(true);
  });

  it('the postmortem command’s answer with the review', async () => {
    const reply = await postmortemCommand.run('', ctx());
    expect(messageViolations({ text: reply.ephemeral })).toEqual([]);
  });

  it('the timeline answer', async () => {
    const reply = await timelineCommand.run('', ctx());
    expect(messageViolations({ text: reply.ephemeral })).toEqual([]);
    expect(reply.ephemeral).toContain('entries left out');
  });

  it('the list of open incidents', async () => {
    const reply = await listCommand.run('', ctx());
    expect(messageViolations({ text: reply.ephemeral })).toEqual([]);
    const lines = (reply.ephemeral ?? '').split('\n');
    const more = /^… and (\d+) more$/.exec(lines[lines.length - 1]);
    expect(Number(more?.[1]) + lines.length - 2).toBe(40);
  });

  it('the help', () => {
    expect(messageViolations({ text: helpText() }, { usageText: true })).toEqual([]);
  });

  it('the start modal (title 24, labels, options 75/150, metadata 3,000, 100 blocks)', () => {
    for (const severity of ['sev1', 'sev4'] as const) {
      const view = startModal(
        {
          channel: 'C0INC',
          detectedAt: T0.toISO() ?? '',
          zone: 'America/Argentina/ComodRivadavia',
        },
        severity,
      ) as Record<string, unknown>;
      expect(modalViolations(view)).toEqual([]);
    }
    // Declared from a long message: the initial values are clipped to the inputs' max_length.
    const fromMessage = startModal({ channel: 'C0INC' }, 'sev2', {
      title: hostile(10_000, 4),
      description: hostile(10_000, 5),
    }) as Record<string, unknown>;
    expect(modalViolations(fromMessage)).toEqual([]);
    expect(JSON.stringify(fromMessage)).toContain('initial_value');
  });
});

describe('clipping after escaping', () => {
  it.each([
    ['&amp;&amp;&amp;', 7],
    ['a&lt;b&gt;c', 5],
    ['x&gt;', 4],
  ])('never cuts an entity: %s to %i', (escaped, max) => {
    const out = clipMrkdwn(escaped, max);
    expect(out.length).toBeLessThanOrEqual(max);
    expect(out.endsWith('…')).toBe(true);
    expect(out.slice(0, -1)).toMatch(/^(?:[^&]|&amp;|&lt;|&gt;)*$/);
  });

  it.each([
    ['😀😀😀', 4],
    ['ab👍🏽cd', 5],
    ['👩‍👩‍👧‍👦x', 6],
    ['🇺🇸🇺🇸', 4],
  ])('never cuts a surrogate pair or an emoji: %s to %i', (text, max) => {
    const out = clipPlain(text, max);
    expect(out.length).toBeLessThanOrEqual(max);
    expect(text.startsWith(out.slice(0, -1))).toBe(true);
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    // What remains is whole graphemes of the original (a prefix of k of them).
    const graphemes = [...new Intl.Segmenter().segment(text)].map((g) => g.segment);
    const prefixes = graphemes.map((_, k) => graphemes.slice(0, k).join(''));
    expect(prefixes).toContain(out.slice(0, -1));
  });

  it('never cuts the bot’s own <#C…> link', () => {
    const out = clipMrkdwn('see <#C0123456789> now', 12);
    expect(out).toBe('see…');
  });

  it('escClip measures the escaped text: 3,000 × "&" becomes at most 3,000 characters', () => {
    const out = escClip('&'.repeat(3000), LIMITS.sectionText);
    expect(out.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(out).toMatch(/^(?:&amp;)+…$/);
  });

  it('fitLines cuts a long list with "… and N more", counting what was never given', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `• line ${i}`);
    const out = fitLines(lines, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    const kept = out.split('\n').length - 1;
    expect(out.endsWith(`… and ${500 - kept} more`)).toBe(true);
    expect(fitLines(['a', 'b'], 100, { total: 7 })).toBe('a\nb\n… and 5 more');
    expect(fitLines(['a', 'b'], 100)).toBe('a\nb');
  });
});
