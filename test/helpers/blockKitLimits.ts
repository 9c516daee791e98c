/**
 * An independent check of Slack's Block Kit limits on a built message or view (the JSON the bot
 * would send). The numbers are written out here from Slack's Block Kit reference, not imported
 * from src/slack/blockKit.ts, so a wrong limit there cannot make this check pass.
 *
 * Returns every violation as a readable line (empty: within the limits).
 */

/** Escaping that is well formed: every `&` starts an entity; no lone surrogate. */
function textProblems(where: string, text: string, mrkdwn: boolean): string[] {
  const out: string[] = [];
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) {
    out.push(`${where}: a surrogate pair cut in half`);
  }
  if (mrkdwn) {
    const amp = /&(?!amp;|lt;|gt;)/.exec(text);
    if (amp)
      out.push(
        `${where}: a cut or unescaped entity at ${amp.index}: "${text.slice(amp.index, amp.index + 8)}"`,
      );
    // Raw angle brackets are only Slack's own markup: <#C…>, <@U…>, <!…>, <http…|…>.
    const stripped = text.replace(/<(?:[#@!][^<>\s]+|https?:[^<>\s]+|mailto:[^<>\s]+)>/g, '');
    if (/[<>]/.test(stripped)) out.push(`${where}: an unescaped < or > (or cut markup)`);
  }
  return out;
}

function len(where: string, text: unknown, max: number, out: string[], mrkdwn = false): void {
  if (typeof text !== 'string') {
    out.push(`${where}: text missing`);
    return;
  }
  if (text.length > max) out.push(`${where}: ${text.length} characters (limit ${max})`);
  if (text.length === 0) out.push(`${where}: empty text`);
  out.push(...textProblems(where, text, mrkdwn));
}

interface TextObject {
  type?: string;
  text?: string;
}

function textObject(where: string, t: unknown, max: number, out: string[], plainOnly = false) {
  const o = (t ?? {}) as TextObject;
  if (plainOnly && o.type !== 'plain_text') out.push(`${where}: must be plain_text`);
  len(where, o.text, max, out, o.type === 'mrkdwn');
}

type Json = Record<string, unknown>;

function element(where: string, e: Json, out: string[]): void {
  if (typeof e.action_id === 'string' && e.action_id.length > 255) {
    out.push(`${where}.action_id: over 255`);
  }
  if (e.type === 'button') {
    textObject(`${where}.text`, e.text, 75, out, true);
    if (typeof e.value === 'string' && e.value.length > 2000) {
      out.push(`${where}.value: ${e.value.length} characters (limit 2000)`);
    }
    if (typeof e.url === 'string' && e.url.length > 3000) out.push(`${where}.url: over 3000`);
  }
  if (e.placeholder) textObject(`${where}.placeholder`, e.placeholder, 150, out, true);
  if (typeof e.max_length === 'number' && e.max_length > 3000) {
    out.push(`${where}.max_length: over 3000`);
  }
  if (typeof e.initial_value === 'string') {
    const max = typeof e.max_length === 'number' ? e.max_length : 3000;
    if (e.initial_value.length > max) {
      out.push(`${where}.initial_value: ${e.initial_value.length} characters (max_length ${max})`);
    }
    out.push(...textProblems(`${where}.initial_value`, e.initial_value, false));
  }
  const options = (e.options ?? []) as Json[];
  if (options.length > 100) out.push(`${where}.options: ${options.length} (limit 100)`);
  const all = [...options, ...(e.initial_option ? [e.initial_option as Json] : [])];
  all.forEach((o, i) => {
    textObject(`${where}.options[${i}].text`, o.text, 75, out);
    if (typeof o.value !== 'string' || o.value.length > 150) {
      out.push(`${where}.options[${i}].value: missing or over 150`);
    }
  });
}

function block(where: string, b: Json, out: string[]): void {
  if (typeof b.block_id === 'string' && b.block_id.length > 255) {
    out.push(`${where}.block_id: over 255`);
  }
  switch (b.type) {
    case 'section': {
      if (b.text) textObject(`${where}.text`, b.text, 3000, out);
      const fields = (b.fields ?? []) as unknown[];
      if (!b.text && fields.length === 0) out.push(`${where}: neither text nor fields`);
      if (fields.length > 10) out.push(`${where}.fields: ${fields.length} (limit 10)`);
      fields.forEach((f, i) => textObject(`${where}.fields[${i}]`, f, 2000, out));
      if (b.accessory) element(`${where}.accessory`, b.accessory as Json, out);
      break;
    }
    case 'header':
      textObject(`${where}.text`, b.text, 150, out, true);
      break;
    case 'context': {
      const els = (b.elements ?? []) as Json[];
      if (els.length > 10) out.push(`${where}.elements: ${els.length} (limit 10)`);
      els.forEach((e, i) => {
        if (e.type === 'mrkdwn' || e.type === 'plain_text') {
          textObject(`${where}.elements[${i}]`, e, 3000, out);
        }
      });
      break;
    }
    case 'actions': {
      const els = (b.elements ?? []) as Json[];
      if (els.length > 25) out.push(`${where}.elements: ${els.length} (limit 25)`);
      els.forEach((e, i) => element(`${where}.elements[${i}]`, e, out));
      break;
    }
    case 'input':
      textObject(`${where}.label`, b.label, 2000, out, true);
      if (b.hint) textObject(`${where}.hint`, b.hint, 2000, out, true);
      element(`${where}.element`, (b.element ?? {}) as Json, out);
      break;
    case 'divider':
      break;
    default:
      out.push(`${where}: block type ${String(b.type)} is not checked here`);
  }
}

/** The sum of every `text` string in the blocks (Slack's observed msg_blocks_too_long budget). */
function textChars(v: unknown, key?: string): number {
  if (typeof v === 'string') return key === 'text' ? v.length : 0;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + textChars(x), 0);
  if (v && typeof v === 'object') {
    return Object.entries(v).reduce((n, [k, x]) => n + textChars(x, k), 0);
  }
  return 0;
}

/**
 * A message (chat.postMessage / chat.update / response_url body): text and blocks.
 * `usageText`: the text is the bot's own usage/help, whose code spans show `<title>`-style
 * placeholders; angle brackets inside code are not checked there.
 */
export function messageViolations(
  msg: { text?: string; blocks?: unknown[] },
  opts: { usageText?: boolean } = {},
): string[] {
  const out: string[] = [];
  if (msg.text !== undefined) {
    // Slack truncates beyond 40,000; the bot promises 4,000 (Slack's readability advice).
    const text = opts.usageText ? msg.text.replace(/```[\s\S]*?```|`[^`\n]*`/g, '``') : msg.text;
    if (msg.text.length > 4000) out.push(`text: ${msg.text.length} characters (limit 4000)`);
    out.push(...textProblems('text', text, true));
  }
  const blocks = (msg.blocks ?? []) as Json[];
  if (blocks.length > 50) out.push(`blocks: ${blocks.length} (limit 50 per message)`);
  blocks.forEach((b, i) => block(`blocks[${i}]`, b, out));
  const chars = textChars(blocks);
  if (chars > 12000)
    out.push(`blocks: ${chars} characters of text (msg_blocks_too_long above ~13,000)`);
  return out;
}

/** A modal view (views.open). */
export function modalViolations(view: Json): string[] {
  const out: string[] = [];
  if (view.type !== 'modal') out.push('type: not a modal');
  textObject('title', view.title, 24, out, true);
  if (view.submit) textObject('submit', view.submit, 24, out, true);
  if (view.close) textObject('close', view.close, 24, out, true);
  if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) {
    out.push(`private_metadata: ${view.private_metadata.length} (limit 3000)`);
  }
  if (typeof view.callback_id === 'string' && view.callback_id.length > 255) {
    out.push('callback_id: over 255');
  }
  const blocks = (view.blocks ?? []) as Json[];
  if (blocks.length > 100) out.push(`blocks: ${blocks.length} (limit 100 per modal)`);
  blocks.forEach((b, i) => block(`blocks[${i}]`, b, out));
  return out;
}
