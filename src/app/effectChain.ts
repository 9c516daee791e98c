/**
 * Effects delivered one after the other (e.g. the start of an incident: invite, status card,
 * announcements, then the answer to the person who started it), each its own keyed outbox entry.
 *
 * A chained effect carries the rest of the chain in its payload (`chain.next`) and the failures
 * met so far (`chain.failures`). `chainable(handler)` wraps a handler: when the step is done, the
 * next step is written as a follow-up effect in the same store write that completes this one
 * (EffectOutcome.effects), so each step is owed exactly once; when the step cannot be done — a
 * PermanentEffectError, or still failing after `giveUpAfter` attempts — the failure is noted in
 * the chain, the step is dead, and the chain goes on, so the last step (the answer) always comes
 * and can say what did not work. An effect without a chain is handled exactly as by `handler`.
 */
import type { NewEffect, StoredEffect } from '../store/store';
import {
  PermanentEffectError,
  type EffectContext,
  type EffectHandler,
  type EffectOutcome,
} from './effects';

export interface ChainState {
  /** The steps still to come, in order. */
  next: NewEffect[];
  /** What could not be done so far, as phrases ("invite you to the channel (not_in_channel)"). */
  failures: string[];
}

/** A step's own failure that does not stop it (e.g. posted but not pinned). */
export interface StepOutcome extends EffectOutcome {
  failures?: string[];
}

export type ChainStepHandler = (
  effect: StoredEffect,
  ctx: EffectContext,
) => Promise<StepOutcome | void>;

/** The chain an effect carries, if any. */
export function chainOf(effect: Pick<StoredEffect, 'payload'>): ChainState | undefined {
  const p = effect.payload as { chain?: unknown } | null | undefined;
  const c = p && typeof p === 'object' ? p.chain : undefined;
  if (!c || typeof c !== 'object') return undefined;
  const { next, failures } = c as { next?: unknown; failures?: unknown };
  return {
    next: Array.isArray(next) ? (next as NewEffect[]) : [],
    failures: Array.isArray(failures) ? failures.filter((f) => typeof f === 'string') : [],
  };
}

/**
 * The steps as one chain: the first effect carries the others. `failures` are the ones known
 * before it starts (e.g. the channel could not be created).
 */
export function chain(steps: NewEffect[], failures: string[] = []): NewEffect[] {
  if (steps.length === 0) return [];
  const [first, ...rest] = steps;
  return [withChain(first, { next: rest, failures })];
}

function withChain(effect: NewEffect, state: ChainState): NewEffect {
  const payload = (effect.payload ?? {}) as Record<string, unknown>;
  return { ...effect, payload: { ...payload, chain: state } };
}

/** The follow-up that continues a chain after a step, with `failed` added to its failures. */
function continuation(state: ChainState, failed: string[]): NewEffect[] {
  return chain(state.next, [...state.failures, ...failed]);
}

/**
 * `handler` as a chain step. `describe(effect, error)` says what could not be done, for the
 * final answer ("post the announcement in #ops (channel_not_found)").
 */
export function chainable(
  handler: ChainStepHandler,
  describe: (effect: StoredEffect, reason: string) => string,
  opts: { giveUpAfter?: number } = {},
): EffectHandler {
  const giveUpAfter = opts.giveUpAfter ?? 3;
  return async (effect, ctx) => {
    const state = chainOf(effect);
    if (!state) {
      const out = await handler(effect, ctx);
      if (!out) return undefined;
      // Outside a chain a step's own failures have nobody to go to (the handler logged them).
      return {
        ...(out.events ? { events: out.events } : {}),
        ...(out.effects ? { effects: out.effects } : {}),
      };
    }
    let out: StepOutcome | void;
    try {
      out = await handler(effect, ctx);
    } catch (err) {
      const permanent = err instanceof PermanentEffectError;
      if (!permanent && ctx.attempt < giveUpAfter) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      const follow = continuation(state, [describe(effect, reason)]);
      const earlier = permanent ? err.outcome : undefined;
      // Dead, with its outcome: the chain goes on without this step.
      throw new PermanentEffectError(reason, {
        ...(earlier?.events ? { events: earlier.events } : {}),
        effects: [...(earlier?.effects ?? []), ...follow],
      });
    }
    const { failures = [], ...outcome } = out ?? {};
    return {
      ...outcome,
      effects: [...(outcome.effects ?? []), ...continuation(state, failures)],
    };
  };
}

/** "Slack answered not_in_channel" → "not_in_channel" (as the answers have always said it). */
export function shortReason(reason: string): string {
  return reason.startsWith('Slack answered ') ? reason.slice('Slack answered '.length) : reason;
}
