/**
 * Slack message markup <-> plain text.
 *
 * Slack sends `&`, `<`, `>` escaped as `&amp;`, `&lt;`, `&gt;` and wraps mentions, channels and
 * links in angle brackets. What the bot records (and the postmortem shows) is the plain text a
 * human reads: names instead of ids, characters instead of entities, never raw markup.
 */

/** Names to show for ids: users (U…/W…), user groups (S…) and channels (C…/G…). */
export type NameMap = ReadonlyMap<string, string>;

const ENTITY = /&(amp|lt|gt|quot|#39);/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

/** `&amp;` → `&`, `&lt;` → `<`, `&gt;` → `>` in one pass (so `&amp;lt;` stays `&lt;`). */
export function unescapeEntities(text: string): string {
  return text.replace(ENTITY, (_m, name: string) => ENTITIES[name] ?? _m);
}

/** Escapes user text for a message the bot posts (the inverse of unescapeEntities). */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Everything between `<` and `>`; Slack never puts a raw `<` or `>` inside. */
const MARKUP = /<([^<>\s][^<>]*)>/g;

/**
 * Code in Slack text: ```` ```blocks``` ```` (may span lines) and `` `spans` `` (one line).
 * Slack does not format inside them, so neither do we.
 */
const CODE = /```[\s\S]*?```|`[^`\n]+`/g;

/**
 * The text with Slack markup replaced by what a human reads: mentions, channels and links
 * outside code become names and URLs. Inside code spans and blocks the markup is kept verbatim
 * (`<tel:…|…>` stays as written: rewriting it would change the code); only the `&amp;` `&lt;`
 * `&gt;` escapes Slack applies everywhere are undone. Live capture and the importer both use
 * this one function, so they record the same text.
 */
export function decodeSlackText(text: string, names?: NameMap): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(CODE)) {
    const at = m.index ?? 0;
    out += decodeMarkup(text.slice(last, at), names) + unescapeEntities(m[0]);
    last = at + m[0].length;
  }
  return out + decodeMarkup(text.slice(last), names);
}

function decodeMarkup(text: string, names?: NameMap): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(MARKUP)) {
    const at = m.index ?? 0;
    // Plain text between markup: entities only (each piece decoded once, so "&amp;lt;" → "&lt;").
    out += unescapeEntities(text.slice(last, at));
    const inner = m[1];
    const bar = inner.indexOf('|');
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? unescapeEntities(inner.slice(bar + 1)) : undefined;
    out += decodeOne(target, label, names) ?? unescapeEntities(m[0]);
    last = at + m[0].length;
  }
  return out + unescapeEntities(text.slice(last));
}

function decodeOne(
  target: string,
  label: string | undefined,
  names: NameMap | undefined,
): string | undefined {
  const labelled = label !== undefined && label.trim() !== '' ? label.trim() : undefined;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const name = names?.get(id) ?? labelled ?? id;
    return `@${name.replace(/^@/, '')}`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = labelled ?? names?.get(id) ?? id;
    return `#${name.replace(/^#/, '')}`;
  }
  if (target.startsWith('!')) {
    const special = target.slice(1);
    const sub = /^subteam\^([A-Z0-9_]+)$/i.exec(special);
    if (sub) {
      const name = labelled ?? names?.get(sub[1]) ?? sub[1];
      return `@${name.replace(/^@/, '')}`;
    }
    if (/^(here|channel|everyone)$/i.test(special)) return `@${special.toLowerCase()}`;
    // <!date^…|fallback> and anything else: its label, else the keyword.
    if (labelled) return labelled;
    const word = special.split('^')[0];
    return word ? `@${word}` : undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    const url = unescapeEntities(target);
    if (!labelled || labelled === url) return url;
    if (/^mailto:/i.test(url) && url.slice('mailto:'.length) === labelled) return labelled;
    if (url.replace(/^[a-z]+:\/\//i, '').replace(/\/$/, '') === labelled) return url;
    return `${labelled} (${url})`;
  }
  return undefined;
}

/** Ids of the users, user groups and channels mentioned in raw Slack text (unique, in order). */
export function extractMentions(text: string): {
  users: string[];
  groups: string[];
  channels: string[];
} {
  const users: string[] = [];
  const groups: string[] = [];
  const channels: string[] = [];
  const add = (list: string[], id: string) => {
    if (!list.includes(id)) list.push(id);
  };
  for (const m of text.matchAll(MARKUP)) {
    const target = m[1].split('|')[0];
    let r: RegExpExecArray | null;
    if ((r = /^@([UW][A-Z0-9_]+)$/i.exec(target))) add(users, r[1]);
    else if ((r = /^!subteam\^([A-Z0-9_]+)$/i.exec(target))) add(groups, r[1]);
    else if ((r = /^#([CGD][A-Z0-9_]+)$/i.exec(target))) add(channels, r[1]);
  }
  return { users, groups, channels };
}
