/**
 * `npm start`: load and validate the configuration, open the store, start the Slack app, and
 * shut down gracefully on SIGINT/SIGTERM (stop receiving, finish in-flight work, close the store).
 */
import path from 'node:path';
import { IncidentService } from './app/service';
import { ConfigError, describeConfig, loadConfig, type AppConfig } from './config';
import { createLogger, type Logger } from './logger';
import { createRenderer } from './render/postmortem';
import { createSlackApp, type SlackAppHandle } from './slack/app';
import { describeSlackError, slackErrorCode } from './slack/webOps';
import { openStore } from './store';
import { describeMongoHosts } from './store/mongo/config';
import { DEFAULT_SQLITE_FILE_NAME } from './store/sqlite';
import type { IncidentStore } from './store/store';

export interface RunningBot {
  config: AppConfig;
  logger: Logger;
  store: IncidentStore;
  bot: SlackAppHandle;
  port?: number;
  /** Stops the app, waits for in-flight work, closes the store. Safe to call twice. */
  shutdown(reason?: string): Promise<void>;
}

/** `sqlite at ./data/incident-bot.sqlite` or `mongodb at host:27017` (no credentials). */
export function describeStoreLocation(config: AppConfig): string {
  if (config.mongodbUri) return `mongodb at ${describeMongoHosts(config.mongodbUri)}`;
  const file = path.join(config.dataDir, DEFAULT_SQLITE_FILE_NAME);
  const rel = path.relative(process.cwd(), file);
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `./${rel}` : file;
  return `sqlite at ${shown}`;
}

/** A human explanation of a start-up failure. */
export function explainStartupError(err: unknown, config: AppConfig): string {
  const code = slackErrorCode(err);
  if (code === 'invalid_auth' || code === 'not_authed' || code === 'account_inactive') {
    return `Slack rejected SLACK_BOT_TOKEN (${code}). Copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page, and reinstall the app if it was revoked.`;
  }
  const errno = (err as { code?: unknown })?.code;
  if (errno === 'EADDRINUSE') {
    return `Port ${config.port} is already in use. Stop the other process or set PORT to a free port.`;
  }
  if (errno === 'EACCES') {
    return `Not allowed to listen on port ${config.port}. Use a port above 1023 (PORT).`;
  }
  return `incident-bot could not start: ${describeSlackError(err)}`;
}

export async function main(): Promise<RunningBot> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  logger.info({ config: describeConfig(config) }, 'starting incident-bot');

  const store = await openStore(
    { mongodbUri: config.mongodbUri, dataDir: config.dataDir, env: process.env },
    logger.child({ component: 'store' }),
  );
  let bot: SlackAppHandle;
  let port: number | undefined;
  let connected: boolean | undefined;
  try {
    const render = createRenderer(
      config.postmortemTemplateDir ? { templateDir: config.postmortemTemplateDir } : {},
    );
    const service = new IncidentService({
      store,
      render,
      defaultTemplate: config.postmortemTemplate,
    });
    bot = createSlackApp({ config, service, logger });
    ({ port, connected } = await bot.start());
  } catch (err) {
    await store.close().catch(() => undefined);
    throw Object.assign(new Error(explainStartupError(err, config)), { cause: err });
  }

  const where = describeStoreLocation(config);
  if (config.mode === 'http') {
    logger.info(`incident-bot listening on :${port} (HTTP, store ${where})`);
  } else if (connected) {
    logger.info(
      `incident-bot connected to Slack (Socket Mode, store ${where}; /healthz on :${port})`,
    );
  } else {
    // The reason was logged once by the Socket Mode receiver, which keeps retrying.
    logger.warn(
      `incident-bot started without a Socket Mode connection (store ${where}; /healthz on :${port} answers 503 until connected)`,
    );
  }

  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    closing ??= (async () => {
      logger.info({ reason, inFlight: bot.deps.work.size }, 'shutting down');
      await bot.stop();
      await store.close();
      logger.info('incident-bot stopped');
    })();
    return closing;
  };
  return { config, logger, store, bot, port, shutdown };
}

function installSignalHandlers(running: RunningBot): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      running.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    const force = setTimeout(() => {
      running.logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    running.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (require.main === module) {
  main().then(installSignalHandlers, (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
    } else {
      console.error(err instanceof Error ? err.message : String(err));
    }
    process.exit(1);
  });
}
