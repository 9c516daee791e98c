/**
 * The App Home tab (`app_home_opened`, tab `home`, `views.publish`).
 *
 * - Opening the tab asks for a publish for that user, debounced: opens within HOME_DEBOUNCE_MS
 *   of a pending publish for the same user join it (one views.publish).
 * - When an incident's status card is posted or updated (src/slack/statusCard.ts calls `changed`
 *   through the app), the homes of the users who opened theirs since this process started are
 *   republished, debounced the same way. Which users have looked is kept in
 *   memory only: it decides whom to push to, never what is shown, and after a restart a user's
 *   home is refreshed the next time they open it.
 * - "Done" on an action item records `action.completed` and republishes; "Declare an incident"
 *   opens the start form.
 *
 * What is shown is computed from the record each time (homeView.ts).
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { DateTime } from 'luxon';
import { IncidentError } from '../app/errors';
import type { Incident } from '../app/service';
import { startModal } from '../../commands/start';
import type { SlackDeps } from './app';
import { buildHomeView, HOME_ACTIONS, REVIEW_DAYS } from './homeView';

export interface HomePublisher {
  /** Publishes the user's home after the debounce window (joins a pending one). */
  request(userId: string): void;
  /** Republishes the home of every user who has opened theirs (debounced per user). */
  changed(): void;
  /** Publishes now (used by the debounced timers and by tests). */
  publish(userId: string): Promise<void>;
  /** Notes that `userId` (of workspace `team`) looks at their home: changes are pushed to it. */
  remember(userId: string, team: string): void;
  stop(): void;
}

export function createHomePublisher(deps: SlackDeps, debounceMs: number): HomePublisher {
  const viewers = new Map<string, string>(); // user → team
  const pending = new Map<string, { timer: NodeJS.Timeout; done: () => void }>();
  const now = (): DateTime => (deps.clock ? deps.clock() : deps.service.now()).toUTC();

  async function incidentsFor(team: string | undefined): Promise<Incident[]> {
    const records = await deps.service.list(team ? { team } : {});
    const since = now().minus({ days: REVIEW_DAYS + 1 });
    const wanted = records.filter((r) => r.status !== 'closed' || r.updatedAt >= since);
    const loaded = await Promise.all(
      wanted.map((r) => deps.service.load(r.id).catch(() => undefined)),
    );
    return loaded.filter((i): i is Incident => i !== undefined);
  }

  async function publish(userId: string): Promise<void> {
    const incidents = await incidentsFor(viewers.get(userId) || undefined);
    const view = buildHomeView({
      userId,
      incidents,
      now: now(),
      gapMinutes: deps.config.gapMinutes,
    });
    // homeView builds Block Kit as plain objects; the WebClient types want its View union.
    await deps.client.views.publish({
      user_id: userId,
      view: view as unknown as Parameters<typeof deps.client.views.publish>[0]['view'],
    });
  }

  function request(userId: string): void {
    if (pending.has(userId)) return;
    const done = deps.work.begin();
    const timer = setTimeout(() => {
      pending.delete(userId);
      publish(userId)
        .catch((err: unknown) => deps.logger.warn({ err, user: userId }, 'views.publish failed'))
        .finally(done);
    }, debounceMs);
    pending.set(userId, { timer, done });
  }

  return {
    request,
    publish,
    changed() {
      for (const user of viewers.keys()) request(user);
    },
    remember(user, team) {
      viewers.set(user, team);
    },
    stop() {
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.done();
      }
      pending.clear();
    },
  };
}

/** Registers app_home_opened and the Home buttons. */
export function registerHome(app: App, deps: SlackDeps, debounceMs: number): HomePublisher {
  const home = createHomePublisher(deps, debounceMs);

  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'home') return;
    home.remember(event.user, body.team_id ?? '');
    home.request(event.user);
  });

  app.action<BlockAction<ButtonAction>>(HOME_ACTIONS.done, async ({ ack, body, action }) => {
    await ack();
    const [incidentId, actionId] = (action.value ?? '').split('|');
    if (!incidentId || !actionId) return;
    try {
      const user = await deps.slack.user(body.user.id).catch(() => ({
        id: body.user.id,
        name: body.user.name ?? body.user.id,
      }));
      await deps.service.completeAction(incidentId, actionId, {
        actor: { id: user.id, name: user.name },
        source: 'command',
        key: `act:${body.trigger_id}`,
      });
    } catch (err) {
      if (!(err instanceof IncidentError)) throw err;
      deps.logger.info({ err, incidentId, actionId }, 'home: action item not completed');
    }
    home.request(body.user.id);
  });

  app.action<BlockAction<ButtonAction>>(HOME_ACTIONS.declare, async ({ ack, body }) => {
    await ack();
    await deps.slack.openModal(body.trigger_id, startModal({}, 'sev3'));
  });

  return home;
}
