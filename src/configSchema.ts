/** Building blocks for validating settings from the environment (zod), shared by every config. */
import { z } from 'zod';

/** Empty or whitespace-only values count as unset (e.g. `PORT=` in a .env file). */
export const optionalText = z
  .string()
  .optional()
  .transform((v) => {
    const t = v?.trim();
    return t === undefined || t === '' ? undefined : t;
  });

/** An integer setting in [min, max] with a default; `extra` explains special values. */
export function intSetting(min: number, max: number, fallback: number, extra = '') {
  return optionalText.transform((v, ctx) => {
    if (v === undefined) return fallback;
    const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an integer from ${min} to ${max}${extra} (got ${JSON.stringify(v)})`,
      });
      return z.NEVER;
    }
    return n;
  });
}
