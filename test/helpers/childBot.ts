/**
 * The bot in a child process (test/helpers/crashBot.js), for the suites that kill it with
 * SIGKILL and start it again on the same data: the kill -9 crash test and the restart takeover.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ChildBot {
  child: ChildProcess;
  /** The bot's Slack events URL (HTTP mode). */
  url: string;
}

/** Starts the bot with `env` on top of this process's; resolves once it listens. */
export function startChildBot(env: Record<string, string>): Promise<ChildBot> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'crashBot.js'), [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('message', (m: { port?: number; error?: string }) => {
      if (m.port) resolve({ child, url: `http://127.0.0.1:${m.port}/slack/events` });
      else reject(new Error(m.error ?? 'the bot did not start'));
    });
    child.once('exit', (code) => reject(new Error(`the bot exited (${code}) before listening`)));
  });
}

/** kill -9, resolved once the process is gone. */
export function killChildBot(bot: ChildBot): Promise<void> {
  return new Promise((resolve) => {
    if (bot.child.exitCode !== null || bot.child.signalCode !== null) return resolve();
    bot.child.once('exit', () => resolve());
    bot.child.kill('SIGKILL');
  });
}

/** Polls `fn` every 50 ms until it returns a value; fails naming `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
