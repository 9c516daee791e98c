import { insightsWebFor } from '../src/web/registry';
import type { CommandModule } from '../src/slack/ports';

/**
 * `insights`: a one-time link to the insights page of this workspace, shown only to the caller.
 * The link is single use and expires after INSIGHTS_LINK_MINUTES; it opens a session bound to
 * the workspace the command came from.
 */
export const insightsCommand: CommandModule = {
  name: 'insights',
  usage: 'insights',
  summary: 'a private one-time link to the insights page (figures across incidents)',
  needsIncident: false,
  async run(_args, ctx) {
    const web = insightsWebFor(ctx.service);
    if (!web) {
      return { ephemeral: 'The insights page is not served by this bot (no HTTP server).' };
    }
    if (!web.publicUrl) {
      return {
        ephemeral:
          'The insights page needs INSIGHTS_PUBLIC_URL (the address people reach this bot at) to make a link.',
      };
    }
    const { token, expiresAt } = web.auth.mint(ctx.team, ctx.user.id);
    const minutes = Math.round((expiresAt - ctx.now.toMillis()) / 60_000);
    const link = `${web.publicUrl}/insights/login?token=${token}`;
    return {
      ephemeral: `Your one-time link to the insights of this workspace (works once, for ${minutes} minutes; do not share it): <${link}|open insights>\n${link}`,
    };
  },
};
