/**
 * The text of a message that has none in `text`: Block Kit `rich_text` blocks (messages written
 * in Slack's composer since 2019 may leave `text` empty in exports) and legacy attachments
 * (alerts and shared messages). The result is Slack markup (mrkdwn: `<@U…>`, `<url|label>`,
 * `` `code` ``, ```` ```block``` ````, entities escaped), so it goes through the one Slack-markup
 * decoder (src/slack/text.ts) like any other message text.
 *
 * Any shape is tolerated: an element this code does not know contributes its `text` if it has
 * one, and nothing otherwise.
 */
import { escapeSlackText } from '../slack/text';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function inline(elements: unknown): string {
  return list(elements)
    .filter(isObj)
    .map((el) => {
      const style = isObj(el.style) ? el.style : {};
      switch (el.type) {
        case 'text': {
          const t = escapeSlackText(str(el.text));
          return style.code === true && t.trim() !== '' ? `\`${t}\`` : t;
        }
        case 'link': {
          const url = str(el.url);
          const label = str(el.text);
          return label ? `<${url}|${escapeSlackText(label)}>` : `<${url}>`;
        }
        case 'user':
          return `<@${str(el.user_id)}>`;
        case 'channel':
          return `<#${str(el.channel_id)}>`;
        case 'usergroup':
          return `<!subteam^${str(el.usergroup_id)}>`;
        case 'broadcast':
          return `<!${str(el.range)}>`;
        case 'emoji':
          // As Slack writes emoji in `text`: by name.
          return `:${str(el.name)}:`;
        case 'date':
          return escapeSlackText(str(el.fallback) || str(el.text));
        default:
          return escapeSlackText(str(el.text));
      }
    })
    .join('');
}

function richElement(el: Obj): string {
  switch (el.type) {
    case 'rich_text_section':
      return inline(el.elements);
    case 'rich_text_preformatted':
      return `\`\`\`${inline(list(el.elements).map((e) => (isObj(e) ? { ...e, style: {} } : e)))}\`\`\``;
    case 'rich_text_quote':
      return inline(el.elements)
        .split('\n')
        .map((l) => `&gt; ${l}`)
        .join('\n');
    case 'rich_text_list': {
      const ordered = el.style === 'ordered';
      return list(el.elements)
        .filter(isObj)
        .map((item, i) => `${ordered ? `${i + 1}.` : '•'} ${inline(item.elements)}`)
        .join('\n');
    }
    default:
      return escapeSlackText(str(el.text));
  }
}

/** Text of `blocks` as Slack markup ('' when they hold none). */
export function blocksText(blocks: readonly unknown[] | undefined): string {
  const parts: string[] = [];
  for (const b of list(blocks).filter(isObj)) {
    if (b.type === 'rich_text') {
      const body = list(b.elements)
        .filter(isObj)
        .map(richElement)
        .filter((s) => s !== '');
      // Sections carry their own newlines; other elements are separate lines.
      parts.push(body.join('\n').replace(/\n{3,}/g, '\n\n'));
    } else if (isObj(b.text)) {
      // section / header: their text is already mrkdwn (or plain_text, escaped here).
      const t = str(b.text.text);
      parts.push(b.text.type === 'plain_text' ? escapeSlackText(t) : t);
    }
  }
  return parts
    .filter((p) => p.trim() !== '')
    .join('\n')
    .trim();
}

/** Text of legacy attachments: pretext, title and text (or the fallback), one per line. */
export function attachmentsText(
  attachments: readonly { pretext?: string; title?: string; text?: string; fallback?: string }[],
): string {
  return attachments
    .map((a) => {
      const own = [a.pretext, a.title, a.text].filter((s): s is string => !!s && s.trim() !== '');
      return own.length ? own.join('\n') : (a.fallback ?? '');
    })
    .filter((s) => s.trim() !== '')
    .join('\n')
    .trim();
}
