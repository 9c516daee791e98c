/**
 * The insights pages over HTTP, on the real app: `/incident insights` gives a one-time link; the
 * link opens a session cookie for that workspace only; without it every page answers 401.
 */
import { DateTime } from 'luxon';
import { insightsWebFor } from '../../src/web/registry';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';
import { seed } from '../helpers/seedIncidents';
import { TEST_TEAM } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';

let now = DateTime.fromISO('2025-06-30T12:00:00Z', { zone: 'utc' });
let bot: TestBot;
let base: string;

beforeAll(async () => {
  bot = await startTestBot({ clock: () => now });
  base = `http://127.0.0.1:${bot.port}`;
  const web = insightsWebFor(bot.service);
  if (!web) throw new Error('insights routes not registered');
  web.publicUrl = base;
  await seed(
    bot.store,
    TEST_TEAM.id,
    new IncidentBuilder({ number: 1, date: '2025-06-10' })
      .opened('10:00', 'Checkout <script>alert(1)</script> errors', 'sev2')
      .detected('10:00')
      .hypothesis('10:05', 'Bad deploy')
      .ruleOut('H1', '10:20', 'Rolled back, no change')
      .hypothesis('10:25', 'Card processor timeouts')
      .confirm('H2', '10:40')
      .action('10:50', 'Alert on processor latency', { owner: people.ravi, due: '2025-06-15' })
      .resolve('11:00', 'Failover to the second processor'),
  );
  await seed(
    bot.store,
    'T_OTHER',
    new IncidentBuilder({ number: 1, date: '2025-06-12' })
      .opened('09:00', 'Other workspace secret outage')
      .detected('09:00')
      .resolve('09:30'),
  );
});

afterAll(async () => {
  await bot.close();
});

async function linkFor(team?: string): Promise<string> {
  const r = await bot.command('insights', team ? { team } : {});
  const text = r.ephemeral.join('\n');
  const m = /(http:\/\/127\.0\.0\.1:\d+\/insights\/login\?token=[A-Za-z0-9_-]+)/.exec(text);
  if (!m) throw new Error(`no link in: ${text}`);
  return m[1];
}

async function login(link: string): Promise<Response> {
  const token = new URL(link).searchParams.get('token') ?? '';
  return fetch(`${base}/insights/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
}

function cookieOf(r: Response): string {
  const set = r.headers.get('set-cookie') ?? '';
  return set.split(';')[0];
}

describe('insights over HTTP', () => {
  it.each(['/insights', '/insights.json', '/insights.csv', '/insights/incidents/1'])(
    '%s answers 401 without a session',
    async (path) => {
      const r = await fetch(`${base}${path}`);
      expect(r.status).toBe(401);
    },
  );

  it('a one-time link opens a session: the link page does not spend the token, the POST does', async () => {
    const link = await linkFor();
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('<form method="post" action="/insights/login">');

    const r = await login(link);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/insights');
    expect(r.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Lax/);

    const html = await (
      await fetch(`${base}/insights`, { headers: { cookie: cookieOf(r) } })
    ).text();
    expect(html).toContain('id="tiles"');
    expect(html).toContain('<svg');
    // User text is escaped, and the other workspace is invisible.
    expect(html).toContain('Checkout &lt;script&gt;alert(1)&lt;/script&gt; errors');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('Other workspace secret outage');

    // Replay: the same token again is refused.
    const again = await login(link);
    expect(again.status).toBe(401);
    expect(again.headers.get('set-cookie')).toBeNull();
  });

  it('an expired link is refused', async () => {
    const link = await linkFor();
    now = now.plus({ minutes: 11 });
    try {
      const r = await login(link);
      expect(r.status).toBe(401);
      expect(await r.text()).toContain('expired');
    } finally {
      now = now.minus({ minutes: 11 });
    }
  });

  it('a session sees only its own workspace, in the page, the exports and incident pages', async () => {
    const cookie = cookieOf(await login(await linkFor()));
    const json = (await (
      await fetch(`${base}/insights.json?days=30`, { headers: { cookie } })
    ).json()) as { incidents: { title: string; number: number }[]; diagnosis: unknown };
    expect(json.incidents.map((i) => i.title)).toEqual([
      'Checkout <script>alert(1)</script> errors',
    ]);

    const csv = await (await fetch(`${base}/insights.csv?days=30`, { headers: { cookie } })).text();
    expect(csv.split('\r\n')[0]).toBe('section,subject,measure,value');
    expect(csv).toContain('incident,INC-1,hypotheses_raised,2');
    expect(csv).not.toContain('Other workspace');

    const page = await fetch(`${base}/insights/incidents/1`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="timeline"');
    expect(html).toContain('Mermaid source');
    expect(html).toContain('<h2>Postmortem draft</h2>');

    const md = await fetch(`${base}/insights/incidents/1/postmortem.md`, { headers: { cookie } });
    expect(md.headers.get('content-disposition')).toContain('postmortem-INC-1.md');
    expect(await md.text()).toContain('Card processor timeouts');

    // The other workspace also has an INC-1; this session never reaches it, and INC-2 is nobody's.
    const other = await fetch(`${base}/insights/incidents/1/incident.json`, {
      headers: { cookie },
    });
    const exported = (await other.json()) as { incident: { team: string } };
    expect(exported.incident.team).toBe(TEST_TEAM.id);
    expect((await fetch(`${base}/insights/incidents/2`, { headers: { cookie } })).status).toBe(404);
  });

  it('the other workspace’s session sees its own incident, not ours', async () => {
    const cookie = cookieOf(await login(await linkFor('T_OTHER')));
    const json = (await (
      await fetch(`${base}/insights.json?days=30`, { headers: { cookie } })
    ).json()) as { incidents: { title: string }[] };
    expect(json.incidents.map((i) => i.title)).toEqual(['Other workspace secret outage']);
  });

  it('a forged cookie is refused', async () => {
    const r = await fetch(`${base}/insights`, { headers: { cookie: 'ib_insights=e30.AAAA' } });
    expect(r.status).toBe(401);
  });
});
