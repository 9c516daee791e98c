import {
  requireText,
  serviceCtx,
  short,
  takeDue,
  takeLeading,
  takeUserMention,
  userName,
  type UserMention,
  mentionNames,
} from '../src/slack/grammar';
import { UsageError, type CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident } from './common';

const usage = 'action [<@owner>] [due YYYY-MM-DD] <text>';

/**
 * `action [<@owner>] [due YYYY-MM-DD] <text>`: a corrective / preventive item. Owner and due date
 * come in any order before the text (a leading time is accepted too, and recorded as when the item
 * was added).
 */
export const actionCommand: CommandModule = {
  name: 'action',
  aliases: ['ai', 'todo'],
  usage,
  summary: 'add a corrective / preventive action item, with an owner and a due date',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    let rest = lead.rest;
    let owner: UserMention | undefined;
    let due: string | undefined;
    for (;;) {
      const m = takeUserMention(rest);
      if (m.user) {
        if (owner) throw new UsageError('Give one owner per action item.', usage);
        owner = m.user;
        rest = m.rest;
        continue;
      }
      const d = takeDue(rest, usage);
      if (d.due) {
        if (due) throw new UsageError('Give the due date only once.', usage);
        due = d.due;
        rest = d.rest;
        continue;
      }
      break;
    }
    const text = requireText(rest, 'the action item', usage, await mentionNames(ctx, rest));
    const ownerActor = owner ? { id: owner.id, name: await userName(ctx, owner) } : undefined;
    const res = await ctx.service.addAction(
      incident,
      { text, ...(ownerActor ? { owner: ownerActor } : {}), ...(due ? { due } : {}) },
      serviceCtx(ctx, lead.time),
    );
    const id = res.action?.id ?? 'A?';
    const details = [
      ownerActor ? `owner ${esc(ownerActor.name)}` : 'no owner yet',
      due ? `due ${due}` : 'no due date yet',
    ].join(', ');
    return recorded(
      ctx,
      res.incident,
      res,
      `📋 ${id}: ${esc(short(text))} — ${details} (${esc(ctx.user.name)})`,
      `Action item ${id} added to ${incLabel(incident)} (${details}).`,
    );
  },
};
