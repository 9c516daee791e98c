/** The paging subscriber's Slack calls, over the app's WebClient and SlackOps. */
import type { webApi } from '@slack/bolt';
import type { SlackOps } from '../../slack/ports';
import type { PagingSlack } from './subscriber';

export function createPagingSlack(client: webApi.WebClient, slack: SlackOps): PagingSlack {
  return {
    async userByEmail(email) {
      try {
        const res = await client.users.lookupByEmail({ email });
        const u = res.user;
        if (!u?.id || u.deleted) return undefined;
        const name = u.profile?.display_name || u.real_name || u.name || u.id;
        return { id: u.id, name };
      } catch (err) {
        // Nobody with that email: an answer, not a failure.
        if ((err as { data?: { error?: unknown } })?.data?.error === 'users_not_found') {
          return undefined;
        }
        throw err;
      }
    },
    usergroupMembers: (g) => slack.usergroupMembers(g),
    invite: (channel, users) => slack.invite(channel, users),
    post: (channel, text) => slack.post(channel, text),
  };
}
