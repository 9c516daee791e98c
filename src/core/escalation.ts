/** Escalation text: who it went to, and why. Shared by `/incident escalate` and the 🚨 reaction. */

/**
 * Splits "<to whom> because <why>" (also "<to whom> — <why>" and "<to whom>: <why>"); the earliest
 * separator wins and both sides must be non-empty. Otherwise the whole text is `to`, no reason.
 */
export function splitEscalation(text: string): { to: string; reason?: string } {
  const separators = [/\s+because\s+/i, /\s+[—–]+\s+|\s+--\s+/, /:\s+/];
  let best: { index: number; length: number } | undefined;
  for (const re of separators) {
    const m = re.exec(text);
    if (m && m.index > 0 && (!best || m.index < best.index)) {
      best = { index: m.index, length: m[0].length };
    }
  }
  if (best) {
    const to = text.slice(0, best.index).trim();
    const reason = text.slice(best.index + best.length).trim();
    if (to && reason) return { to, reason };
  }
  return { to: text.trim() };
}
