/** Which channel messages fill the draft's timeline (core/conversation.ts). */
import {
  COVER_MS,
  RUN_KEEP,
  RUN_MAX,
  conversationEntries,
  threads,
} from '../../src/core/conversation';
import { IncidentBuilder } from '../helpers/incidentBuilder';

describe('conversationEntries', () => {
  it('keeps messages far from curated entries, drops the ones a curated entry tells', () => {
    expect(COVER_MS).toBe(5 * 60_000);
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .message('10:01', 'near the opening only: bookkeeping does not count')
      .log('10:20', 'a curated entry')
      .message('10:22', 'within 5 minutes of it')
      .message('10:26', 'just over 5 minutes after it')
      .incident().state;
    expect(
      conversationEntries(s).map((e) => (e.kind === 'message' ? e.message.text : e.kind)),
    ).toEqual([
      'near the opening only: bookkeeping does not count',
      'just over 5 minutes after it',
    ]);
  });

  it('folds thread replies into their first message, and a reply whose parent is gone leads', () => {
    let parent = { channel: '', ts: '' };
    const b = new IncidentBuilder().opened('10:00', 'x').detected('10:00');
    b.message('10:10', 'parent', { onRef: (r) => (parent = r) });
    const s = b.message('10:11', 'reply 1').incident().state;
    // The builder records top-level messages: make the second a reply in the first's thread.
    const withThread = {
      ...s,
      messages: s.messages.map((m) => (m.text === 'reply 1' ? { ...m, threadTs: parent.ts } : m)),
    };
    const entries = conversationEntries(withThread);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: 'message', replies: 1 });
    const orphan = {
      ...withThread,
      messages: withThread.messages.filter((m) => m.text !== 'parent'),
    };
    expect(threads(orphan.messages).map((t) => [t.head.text, t.replies.length])).toEqual([
      ['reply 1', 0],
    ]);
  });

  it(`shortens a run of more than ${RUN_MAX} to its first and last ${RUN_KEEP}, counting what it left out`, () => {
    const b = new IncidentBuilder().opened('09:00', 'x').detected('09:00');
    for (let i = 0; i < 12; i += 1) b.message(`10:${String(10 + i).padStart(2, '0')}`, `m${i}`);
    b.log('10:40', 'curated');
    b.message('10:50', 'after the curated entry');
    const entries = conversationEntries(b.incident().state);
    const shown = entries.map((e) => (e.kind === 'message' ? e.message.text : `…${e.count}`));
    expect(shown).toEqual(['m0', 'm1', 'm2', '…6', 'm9', 'm10', 'm11', 'after the curated entry']);
    const marker = entries.find((e) => e.kind === 'shortened');
    expect(marker).toMatchObject({ count: 6 });
  });

  it('leaves deleted messages out', () => {
    const s = new IncidentBuilder().opened('09:00', 'x').message('10:00', 'gone').incident().state;
    const deleted = { ...s, messages: s.messages.map((m) => ({ ...m, deleted: true })) };
    expect(conversationEntries(deleted)).toEqual([]);
  });
});
