/**
 * How `/incident insights` finds the web side that serves the page: the routes register their
 * auth (and public URL) per service instance when the HTTP server is set up; the command looks it
 * up through the service it is given. No registration means the page is not served by this bot.
 */
import type { WebAuth } from './auth';

export interface InsightsWeb {
  auth: WebAuth;
  /** Base URL of the bot as users reach it (no trailing slash). */
  publicUrl?: string;
}

const registry = new WeakMap<object, InsightsWeb>();

export function registerInsightsWeb(service: object, web: InsightsWeb): void {
  registry.set(service, web);
}

export function insightsWebFor(service: object): InsightsWeb | undefined {
  return registry.get(service);
}
