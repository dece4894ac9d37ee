// Placeholder registration for a command whose module is missing (a partial checkout): it keeps
// its line in `--help`; run, it says so in one line (exit 2).
// main.ts registers the real module only for the command that was asked for.

import type { Command } from 'commander';
import { UserError } from '../errors.js';

export function registerStub(program: Command, name: string, description: string): void {
  program
    .command(name)
    .description(description)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new UserError(`'heatdeath ${name}' is not built yet`, 'E_NOT_BUILT');
    });
}
