/**
 * zod schemas for the parts of a Slack export the importer reads, and nothing else.
 *
 * Every era of export is accepted: Slack's own workspace exports from 2014 to today and the
 * exports of tools that write the same layout (slackdump among them). They disagree on details,
 * so the schemas follow three rules:
 *
 * - Objects are loose: an unknown field is ignored, whatever it holds.
 * - An optional field the importer reads but that holds something odd (a number as a string, an
 *   object where a string was expected, `null`) is coerced when the meaning is clear
 *   (`"created": "1452837318"`) and otherwise ignored (`.catch(undefined)`): it never refuses
 *   an export.
 * - Only what the import cannot do without is required: a file that is an array, a channel's
 *   `id`, a user's `id`, a message's `ts`. A missing one is a real error, reported as
 *   `<file>: <what> <problem>` by {@link describeIssue}.
 *
 * Formats (https://slack.com/help/articles/220556107 "How to read Slack data exports"):
 * channels.json / groups.json / mpims.json / dms.json are arrays of conversations, users.json an
 * array of users, and each conversation folder holds one array of messages per day.
 */
import { z } from 'zod';

/** A Slack ts: seconds and microseconds, `"1741704000.000100"`. */
export const SLACK_TS = /^\d{1,12}(?:\.\d{1,6})?$/;

/** An optional value: odd values are ignored (undefined), never an error. */
function lenient<T extends z.ZodType>(schema: T) {
  return schema.optional().catch(undefined);
}

/** A number, or a number written as a string (2016-era `"created": "1452837318"`). */
const numberish = z.union([
  z.number().refine(Number.isFinite),
  z
    .string()
    .trim()
    .regex(/^-?\d+(?:\.\d+)?$/)
    .transform(Number),
]);

/** true/false, also written as a string or 0/1 by some tools. */
const boolish = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((v) => v === 'true'),
  z.union([z.literal(0), z.literal(1)]).transform((v) => v === 1),
]);

/** A non-empty string (ids, names). */
const text = z.string().transform((s) => s.trim());

/** A ts, as a string or (some tools) a number; `1452837318` alone is accepted as `.000000`. */
const ts = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => SLACK_TS.test(v), {
    message: 'expected seconds.micros like "1741704000.000100"',
  })
  .transform((v) => (v.includes('.') ? v : `${v}.000000`));

/** `topic` / `purpose`: `{ value }` in exports, a plain string in some tools. */
const valueOf = lenient(
  z.union([
    z.string(),
    z.looseObject({ value: lenient(z.string()) }).transform((o) => o.value ?? ''),
  ]),
).transform((v) => (v && v.trim() ? v : undefined));

const stringList = lenient(z.array(z.unknown()))
  .transform((a) => (a ?? []).filter((x): x is string => typeof x === 'string'))
  .catch([]);

export const channelSchema = z.looseObject({
  id: text.pipe(z.string().min(1, 'is empty')),
  name: lenient(text),
  created: lenient(numberish),
  members: stringList,
  topic: valueOf,
  purpose: valueOf,
  /** dms.json: the other person (and `members`). */
  user: lenient(z.string()),
});
export type RawChannel = z.infer<typeof channelSchema>;

export const userSchema = z.looseObject({
  id: text.pipe(z.string().min(1, 'is empty')),
  name: lenient(text),
  real_name: lenient(text),
  tz: lenient(text),
  is_bot: lenient(boolish),
  deleted: lenient(boolish),
  team_id: lenient(text),
  profile: lenient(
    z.looseObject({
      real_name: lenient(text),
      display_name: lenient(text),
      team: lenient(text),
    }),
  ),
});
export type RawUser = z.infer<typeof userSchema>;

const reactionSchema = z.looseObject({
  name: text.pipe(z.string().min(1)),
  users: stringList,
  count: lenient(numberish),
});

const fileSchema = z.looseObject({
  id: lenient(z.string()),
  name: lenient(z.string()),
  title: lenient(z.string()),
  permalink: lenient(z.string()),
  url_private: lenient(z.string()),
  mode: lenient(z.string()),
});
export type RawFile = z.infer<typeof fileSchema>;

const attachmentSchema = z.looseObject({
  pretext: lenient(z.string()),
  title: lenient(z.string()),
  text: lenient(z.string()),
  fallback: lenient(z.string()),
});

/** Keeps the items of a list that match, drops the others (one odd reaction spoils nothing). */
function listOf<T extends z.ZodType>(item: T) {
  return lenient(z.array(z.unknown()))
    .transform((a) =>
      (a ?? []).flatMap((x) => {
        const r = item.safeParse(x);
        return r.success ? [r.data as z.output<T>] : [];
      }),
    )
    .catch([]);
}

export const messageSchema = z.looseObject({
  ts,
  type: lenient(z.string()),
  subtype: lenient(z.string()),
  user: lenient(z.string()),
  bot_id: lenient(z.string()),
  username: lenient(z.string()),
  text: lenient(z.string()),
  thread_ts: lenient(ts),
  hidden: lenient(boolish),
  reply_count: lenient(numberish),
  team: lenient(z.string()),
  edited: lenient(z.looseObject({ ts, user: lenient(z.string()) })),
  reactions: listOf(reactionSchema),
  files: listOf(fileSchema),
  /** Before 2019, one file per message. */
  file: lenient(fileSchema),
  attachments: listOf(attachmentSchema),
  /** rich_text blocks; read by blocks.ts, which tolerates any shape. */
  blocks: lenient(z.array(z.unknown())),
  pinned_to: stringList,
  /** file_comment (2014–2018): the comment's author and text are here, not at the top. */
  comment: lenient(z.looseObject({ user: lenient(z.string()), comment: lenient(z.string()) })),
  user_profile: lenient(
    z.looseObject({
      name: lenient(z.string()),
      real_name: lenient(z.string()),
      display_name: lenient(z.string()),
    }),
  ),
  bot_profile: lenient(z.looseObject({ name: lenient(z.string()) })),
});
export type RawMessage = z.infer<typeof messageSchema>;

/** `what` of an array element: "channel 2", "message 14". */
export type ElementNoun = 'channel' | 'user' | 'message';

/**
 * Parses a file that must be an array of `schema` objects. Errors name the file, the element
 * (1-based) and the field: `users.json: user 3 has no "id"`.
 */
export function parseArray<T extends z.ZodType>(
  data: unknown,
  file: string,
  noun: ElementNoun,
  schema: T,
  fail: (message: string) => Error,
): z.output<T>[] {
  if (!Array.isArray(data)) {
    throw fail(`${file}: expected an array, got ${describe(data)}`);
  }
  return data.map((item, i) => {
    const r = schema.safeParse(item);
    if (r.success) return r.data as z.output<T>;
    throw fail(`${file}: ${noun} ${i + 1} ${describeIssue(r.error.issues[0], item)}`);
  });
}

/** One zod issue as "has no "ts"", "has "ts" that is …", "is a string, expected an object". */
export function describeIssue(issue: z.core.$ZodIssue | undefined, item: unknown): string {
  if (!issue) return 'is not valid';
  const path = issue.path.map(String);
  if (path.length === 0) return `is ${describe(item)}, expected an object`;
  let value: unknown = item;
  for (const k of issue.path) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<PropertyKey, unknown>)[k]
        : undefined;
  }
  const field = `"${path.join('.')}"`;
  if (value === undefined || value === null) return `has no ${field}`;
  if (issue.code === 'custom') {
    return `has an invalid ${field} (${JSON.stringify(value)}); ${issue.message}`;
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'object' ? 'an object' : `a ${issue.expected}`;
    return `has ${field} that is ${describe(value)}, expected ${expected}`;
  }
  return `has ${field} that is ${describe(value)}: ${issue.message}`;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string')
    return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
  return `${typeof v === 'number' ? 'a number' : typeof v} (${String(v)})`;
}
