// The heatdeath command: registers every command, parses argv, and maps errors to
// exit codes (0 success, 2 bad input a user can fix: one line; 1 internal error: stack trace).

import { Command, CommanderError } from 'commander';
import { isUserError } from '../errors.js';
import { registerStub } from './stub.js';

const program = new Command('heatdeath')
  .description('Generative closed-loop learning: train, sample at temperature T, retrain on the samples, track the histograms.')
  .showHelpAfterError(false)
  .exitOverride()
  // One line per error: commander's suggestion ("(Did you mean --json?)") joins the error's line.
  // Subcommands inherit this (they are created from `program` below).
  .configureOutput({ outputError: (str, write) => write(str.replace(/\n(?=.)/g, ' ')) });

// One entry per command. The module `./<name>.ts` exports `register(program)`; only
// the requested command's module is loaded (start-up stays fast: tfjs loads only where needed).
// A command whose module cannot be loaded (a partial checkout) is registered as a stub that exits 2.
type CommandModule = { register: (p: Command) => void };
const commands: [string, string][] = [
  ['corpora', 'built-in and user corpora: documents, tokens, labels'],
  ['run', 'start a new closed-loop run'],
  ['resume', 'continue a run from its last committed generation'],
  ['status', 'all runs, or one run'],
  ['metrics', 'per-generation metrics of a run'],
  ['samples', 'read the documents of a generation'],
  ['export', 'write documents to stdout'],
  ['sweep', 'a grid of runs over comma lists'],
  ['merge', 'merge run databases into one'],
  ['compare', 'one row per run: settings, final metrics, verdict'],
  ['report', 'a self-contained HTML report'],
  ['serve', 'a local read-only web app: runs live, charts, every generation\'s text'],
  ['sim', 'exact category-level simulation of the closed loop'],
  ['theory', 'mean-field ODE trajectory and fixed point'],
  ['probe-tau', 'measure the coarse-grained temperature map of a trained model'],
  ['bench', 'training and sampling throughput on this machine'],
  ['gc', 'remove orphaned checkpoint folders of a run'],
];

async function loadCommand(name: string): Promise<CommandModule | null> {
  try {
    return (await import(`./${name}.js`)) as CommandModule;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`/cli/${name}.`);
    if (missing) return null;
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`samples … | head`) closes the pipe: end quietly, as a Unix tool
  // does on SIGPIPE, instead of an unhandled EPIPE stack. A run's stored generations are whole
  // either way (each is one transaction).
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  // `heatdeath help run` shows run's real help: load the command named after `help`.
  const requested = words[0] === 'help' ? words[1] : words[0];
  for (const [name, description] of commands) {
    const mod = name === requested ? await loadCommand(name) : null;
    if (mod) mod.register(program);
    else registerStub(program, name, description);
  }
  for (const cmd of program.commands) cmd.exitOverride();
  await program.parseAsync(argv);
}

main(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Help and version exit 0; commander has already printed its one-line error otherwise.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isUserError(e)) {
    process.stderr.write(`heatdeath: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  }
});
