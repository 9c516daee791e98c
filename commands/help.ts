import type { CommandModule } from '../src/slack/ports';

/** `help`: usage generated from the registry (passed in, so there is no import cycle). */
export function createHelpCommand(text: () => string): CommandModule {
  return {
    name: 'help',
    aliases: ['?', '-h', '--help'],
    usage: 'help',
    summary: 'this help, generated from the commands themselves',
    needsIncident: false,
    async run() {
      return { ephemeral: text() };
    },
  };
}
