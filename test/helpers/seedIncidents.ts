/**
 * Incidents stored straight into a store from IncidentBuilder logs, for the insights tests: one
 * helper per incident, and a set of made-up incidents across several months (our own fixtures).
 */
import type { IncidentStore } from '../../src/store/store';
import { IncidentBuilder, people } from './incidentBuilder';

export async function seed(store: IncidentStore, team: string, b: IncidentBuilder): Promise<void> {
  const inc = b.incident();
  await store.createIncident({
    team,
    summary: {
      title: inc.state.title,
      severity: inc.state.severity,
      status: inc.state.status,
      zone: inc.state.zone,
    },
    events: b.newEvents(),
  });
}

/**
 * Nine incidents from January to June 2025 (numbers 1…9), one of them a drill, with hypotheses,
 * escalations, action items (some overdue by the end of June) and resolutions.
 */
export function demoIncidents(): IncidentBuilder[] {
  const out: IncidentBuilder[] = [];
  const specs: {
    date: string;
    title: string;
    sev: 'sev1' | 'sev2' | 'sev3' | 'sev4';
    impact: string;
    esc?: string;
    wrong?: [string, string, string];
    right: [string, string, string];
    resolve: string;
    action?: [string, string];
    drill?: boolean;
  }[] = [
    {
      date: '2025-01-14',
      title: 'Login page times out',
      sev: 'sev2',
      impact: '09:40',
      esc: '10:05',
      right: ['10:10', 'Session store saturated', '10:35'],
      resolve: '11:05',
    },
    {
      date: '2025-02-03',
      title: 'Invoices emailed twice',
      sev: 'sev3',
      impact: '07:30',
      wrong: ['08:10', 'Mail relay retries', '08:50'],
      right: ['08:55', 'Cron ran on two nodes', '09:20'],
      resolve: '09:45',
      action: ['Single-run lock for billing cron', '2025-03-01'],
    },
    {
      date: '2025-03-11',
      title: 'Search returns empty results',
      sev: 'sev2',
      impact: '13:50',
      esc: '14:20',
      wrong: ['14:05', 'CDN cache poisoned', '14:45'],
      right: ['14:50', 'Index alias points at empty index', '15:10'],
      resolve: '15:30',
      action: ['Alert on index document count', '2025-04-15'],
    },
    {
      date: '2025-03-27',
      title: 'Fire drill: primary DB failover',
      sev: 'sev1',
      impact: '10:00',
      right: ['10:05', 'Planned failover', '10:06'],
      resolve: '10:20',
      drill: true,
    },
    {
      date: '2025-04-08',
      title: 'Checkout latency spikes',
      sev: 'sev1',
      impact: '16:20',
      esc: '16:40',
      wrong: ['16:45', 'Payment provider slow', '17:30'],
      right: ['17:35', 'Connection pool too small after deploy', '17:55'],
      resolve: '18:20',
      action: ['Load test pool size in CI', '2025-05-10'],
    },
    {
      date: '2025-05-02',
      title: 'Push notifications delayed',
      sev: 'sev3',
      impact: '06:10',
      right: ['07:00', 'Queue consumer crashed on bad payload', '07:20'],
      resolve: '07:50',
    },
    {
      date: '2025-05-21',
      title: 'Image uploads failing',
      sev: 'sev2',
      impact: '11:15',
      esc: '11:50',
      wrong: ['11:40', 'Disk full on upload hosts', '12:05'],
      right: ['12:10', 'Expired object-store credentials', '12:25'],
      resolve: '12:40',
      action: ['Rotate credentials before expiry', '2025-06-20'],
    },
    {
      date: '2025-06-09',
      title: 'Reports page blank for EU users',
      sev: 'sev3',
      impact: '08:00',
      wrong: ['08:50', 'Feature flag misconfigured', '09:10'],
      right: ['09:15', 'Locale bundle missing from build', '09:30'],
      resolve: '09:45',
    },
    {
      date: '2025-06-24',
      title: 'API error rate above 5%',
      sev: 'sev1',
      impact: '21:05',
      esc: '21:15',
      right: ['21:20', 'Bad config push to gateway', '21:35'],
      resolve: '21:50',
      action: ['Canary config pushes', '2025-06-27'],
    },
  ];
  specs.forEach((s, k) => {
    const b = new IncidentBuilder({ number: k + 1, date: s.date, zone: 'UTC' });
    const detected = `${String(Number(s.impact.slice(0, 2))).padStart(2, '0')}:${String(Math.min(59, Number(s.impact.slice(3)) + 10 + ((k * 7) % 20))).padStart(2, '0')}`;
    b.as(people.dana)
      .opened(detected, s.title, s.sev)
      .detected(detected)
      .impact(detected, `${s.title} for some customers`, { startedAt: s.impact });
    if (s.drill) b.add('incident.kind_set', detected, { kind: 'drill' });
    if (s.esc) b.escalate(s.esc, '@payments-oncall', { reason: 'need the owning team' });
    let h = 0;
    if (s.wrong) {
      b.as(people.ravi).hypothesis(s.wrong[0], s.wrong[1]);
      h += 1;
      b.ruleOut(`H${h}`, s.wrong[2], 'metrics normal');
    }
    b.as(people.lena).hypothesis(s.right[0], s.right[1]);
    h += 1;
    b.confirm(`H${h}`, s.right[2], 'matches the logs');
    if (s.action) b.action(s.resolve, s.action[0], { owner: people.tom, due: s.action[1] });
    b.as(people.dana).resolve(s.resolve, 'fixed and verified');
    out.push(b);
  });
  return out;
}
