/**
 * The insights pages on the bot's own HTTP server (Bolt custom routes; HTTP and Socket Mode alike).
 *
 *   GET  /insights                                  tiles, trends, diagnosis, follow-through, incidents
 *   GET  /insights.json, /insights.csv              the same figures
 *   GET  /insights/incidents/:number                timeline, response diagram, rendered draft
 *   GET  /insights/incidents/:number/postmortem.md  the draft
 *   GET  /insights/incidents/:number/incident.json  the JSON export
 *   GET  /insights/login?token=…                    a button (link previews cannot spend the token)
 *   POST /insights/login                            redeems the token: session cookie, then /insights
 *   POST /insights/logout
 *
 * Everything but the login needs a valid session; without one, 401. Every query is scoped to the
 * session's team: an incident number is looked up within that team only, so another workspace's
 * incidents answer 404 exactly like missing ones.
 */
import type { ServerResponse } from 'node:http';
import { DateTime } from 'luxon';
import type { AppConfig } from '../config';
import type { Incident, IncidentService } from '../app/service';
import { exportIncident } from '../app/export';
import {
  computeInsights,
  incidentKind,
  INCIDENT_KINDS,
  type FoldedIncident,
  type IncidentKind,
} from '../core/insights';
import type { Logger } from '../logger';
import { ganttDiagram } from '../render/mermaid';
import { renderPostmortem } from '../render/postmortem';
import {
  MemoryLoginTokens,
  parseCookies,
  SESSION_COOKIE,
  sessionCookieHeader,
  WebAuth,
  type Session,
} from './auth';
import { parseWebConfig, sessionKey, type WebConfig } from './config';
import { insightsCsv, insightsJson } from './exports';
import { HTML, readBody, send, type Req } from './http';
import { oidcCallback, oidcStart } from './oidcRoutes';
import { incidentPage, insightsPage, loginPage, messagePage } from './pages';
import { registerInsightsWeb, type InsightsWeb } from './registry';

type Handler = (req: Req, res: ServerResponse) => void;
export interface Route {
  path: string;
  method: string[];
  handler: Handler;
}

export interface InsightsRoutesOptions {
  config: AppConfig;
  service: IncidentService;
  logger: Logger;
  clock?: () => DateTime;
  /** Defaults to the INSIGHTS_* settings of the environment. */
  web?: WebConfig;
}

export function createInsightsRoutes(opts: InsightsRoutesOptions): Route[] {
  const { config, service, logger } = opts;
  const clock = opts.clock ?? (() => DateTime.utc());
  const web = opts.web ?? opts.config.web ?? parseWebConfig({});
  const auth = new WebAuth({
    key: sessionKey(web, config.signingSecret ?? config.appToken ?? config.botToken),
    tokens: new MemoryLoginTokens(),
    clock,
    linkMinutes: web.linkMinutes,
    sessionHours: web.sessionHours,
  });
  const publicUrl =
    web.publicUrl ?? (config.port !== 0 ? `http://localhost:${config.port}` : undefined);
  const entry: InsightsWeb = { auth, ...(publicUrl ? { publicUrl } : {}) };
  registerInsightsWeb(service, entry);
  const secure = (publicUrl ?? '').startsWith('https:');
  const log = logger.child({ component: 'insights' });
  const signInWithSlack = web.slack
    ? '<p><a href="/insights/auth/slack">Sign in with Slack</a></p>'
    : '';
  const oidcDeps = web.slack
    ? {
        settings: web.slack,
        auth,
        // Read at sign-in time: the public URL may be set after the server has started (tests).
        publicUrl: () => entry.publicUrl ?? '',
        secure,
        clock,
        knownTeams: () => service.store.listTeams(),
        log,
      }
    : undefined;

  /** Wraps a handler: errors become a 500 page (details only in the log). */
  const safe =
    (fn: (req: Req, res: ServerResponse) => Promise<void>): Handler =>
    (req, res) => {
      fn(req, res).catch((err: unknown) => {
        log.error({ err, path: req.url }, 'insights request failed');
        if (!res.headersSent) send(res, 500, HTML, messagePage('Error', 'Something went wrong.'));
        else res.end();
      });
    };

  /** The session, or a 401 answer (and undefined). */
  const session = (req: Req, res: ServerResponse, kind: 'html' | 'data'): Session | undefined => {
    const s = auth.verify(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
    if (s) return s;
    if (kind === 'data') {
      send(res, 401, 'application/json', JSON.stringify({ error: 'not signed in' }));
    } else {
      send(
        res,
        401,
        HTML,
        messagePage(
          'Sign in needed',
          'The insights are not public. Run /incident insights in Slack for a one-time link.',
          signInWithSlack,
        ),
      );
    }
    return undefined;
  };

  const url = (req: Req): URL => new URL(req.url ?? '/', 'http://localhost');

  /** Period and kinds from the query: days 1…730 (default 90), kinds=all or a list. */
  const view = (req: Req): { days: number; kinds: IncidentKind[]; query: string } => {
    const q = url(req).searchParams;
    const d = Number(q.get('days'));
    const days = Number.isInteger(d) && d >= 1 && d <= 730 ? d : 90;
    const raw = (q.get('kinds') ?? '').toLowerCase();
    const kinds =
      raw === 'all'
        ? [...INCIDENT_KINDS]
        : raw
            .split(',')
            .map((k) => k.trim())
            .filter((k): k is IncidentKind => (INCIDENT_KINDS as readonly string[]).includes(k));
    const chosen = kinds.length ? kinds : (['real'] as IncidentKind[]);
    const query = `days=${days}${chosen.length === INCIDENT_KINDS.length ? '&kinds=all' : chosen.join(',') === 'real' ? '' : `&kinds=${chosen.join(',')}`}`;
    return { days, kinds: chosen, query };
  };

  const loadTeam = async (team: string): Promise<Incident[]> => {
    const records = await service.list({ team });
    return Promise.all(records.map((r) => service.load(r.id)));
  };

  const insightsFor = async (req: Req, s: Session) => {
    const v = view(req);
    const incidents = await loadTeam(s.team);
    const folded: FoldedIncident[] = incidents.map((i) => ({
      id: i.record.id,
      number: i.record.number,
      kind: incidentKind(i.events),
      state: i.state,
    }));
    const insights = computeInsights(folded, {
      now: clock(),
      days: v.days,
      kinds: v.kinds,
      zone: config.timezone,
    });
    return { v, insights };
  };

  const incidentOf = async (req: Req, s: Session): Promise<Incident | undefined> => {
    const raw = req.params?.number;
    const n = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) return undefined;
    return service.findByNumber(s.team, n);
  };

  const notFound = (res: ServerResponse): void =>
    send(res, 404, HTML, messagePage('Not found', 'No such incident in your workspace.'));

  /** A route for signed-in users: 401 (as a page or as JSON, by `kind`) without a session. */
  const withSession = (
    kind: 'html' | 'data',
    fn: (req: Req, res: ServerResponse, s: Session) => Promise<void>,
  ): Handler =>
    safe(async (req, res) => {
      const s = session(req, res, kind);
      if (s) await fn(req, res, s);
    });

  /**
   * A route about one incident of the session's team (`:number`): 401 without a session, 404
   * when the team has no such incident.
   */
  const withIncident = (
    kind: 'html' | 'data',
    fn: (res: ServerResponse, i: Incident) => void,
  ): Handler =>
    withSession(kind, async (req, res, s) => {
      const i = await incidentOf(req, s);
      if (i) fn(res, i);
      else notFound(res);
    });

  const draft = (i: Incident): string =>
    renderPostmortem(i, config.postmortemTemplate, {
      ...(config.postmortemTemplateDir ? { templateDir: config.postmortemTemplateDir } : {}),
      now: clock,
    });

  const oidcRoutes: Route[] = oidcDeps
    ? [
        { path: '/insights/auth/slack', method: ['GET'], handler: safe(oidcStart(oidcDeps)) },
        {
          path: '/insights/auth/slack/callback',
          method: ['GET'],
          handler: safe(oidcCallback(oidcDeps)),
        },
      ]
    : [];

  return [
    ...oidcRoutes,
    {
      path: '/insights/login',
      method: ['GET', 'POST'],
      handler: safe(async (req, res) => {
        if (req.method === 'GET') {
          const token = url(req).searchParams.get('token') ?? '';
          send(res, 200, HTML, loginPage(token));
          return;
        }
        const body = await readBody(req);
        const token = new URLSearchParams(body).get('token') ?? '';
        const r = auth.redeem(token);
        if (!r.ok) {
          log.info({ reason: r.reason }, 'insights login refused');
          send(
            res,
            401,
            HTML,
            messagePage(
              'Link not valid',
              r.reason === 'expired'
                ? 'This link has expired. Run /incident insights in Slack for a new one.'
                : 'This link was already used or is not valid. Run /incident insights in Slack for a new one.',
            ),
          );
          return;
        }
        log.info({ team: r.session.team, user: r.session.user }, 'insights session opened');
        send(res, 303, HTML, '', {
          location: '/insights',
          'set-cookie': sessionCookieHeader(
            r.cookieValue,
            (r.session.expiresAt - clock().toMillis()) / 1000,
            secure,
          ),
        });
      }),
    },
    {
      path: '/insights/logout',
      method: ['POST'],
      handler: safe(async (_req, res) => {
        send(res, 303, HTML, '', {
          location: '/insights',
          'set-cookie': sessionCookieHeader('', 0, secure),
        });
      }),
    },
    {
      path: '/insights',
      method: ['GET'],
      handler: withSession('html', async (req, res, s) => {
        const { v, insights } = await insightsFor(req, s);
        send(
          res,
          200,
          HTML,
          insightsPage({
            insights,
            team: s.team,
            days: v.days,
            kinds: v.kinds,
            zone: config.timezone,
            query: v.query,
          }),
        );
      }),
    },
    {
      path: '/insights.json',
      method: ['GET'],
      handler: withSession('data', async (req, res, s) => {
        const { insights } = await insightsFor(req, s);
        send(res, 200, 'application/json', JSON.stringify(insightsJson(insights), null, 2));
      }),
    },
    {
      path: '/insights.csv',
      method: ['GET'],
      handler: withSession('data', async (req, res, s) => {
        const { insights } = await insightsFor(req, s);
        send(res, 200, 'text/csv; charset=utf-8', insightsCsv(insights), {
          'content-disposition': 'attachment; filename="insights.csv"',
        });
      }),
    },
    {
      path: '/insights/incidents/:number',
      method: ['GET'],
      handler: withIncident('html', (res, i) => {
        const now = clock();
        send(
          res,
          200,
          HTML,
          incidentPage({
            number: i.record.number,
            state: i.state,
            markdown: draft(i),
            mermaid: ganttDiagram(i.state, { now, title: i.state.title }),
            now,
          }),
        );
      }),
    },
    {
      path: '/insights/incidents/:number/postmortem.md',
      method: ['GET'],
      handler: withIncident('data', (res, i) => {
        send(res, 200, 'text/markdown; charset=utf-8', draft(i), {
          'content-disposition': `attachment; filename="postmortem-INC-${i.record.number}.md"`,
        });
      }),
    },
    {
      path: '/insights/incidents/:number/incident.json',
      method: ['GET'],
      handler: withIncident('data', (res, i) => {
        send(res, 200, 'application/json', JSON.stringify(exportIncident(i), null, 2), {
          'content-disposition': `attachment; filename="INC-${i.record.number}.json"`,
        });
      }),
    },
  ];
}
