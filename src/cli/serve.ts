// `heatdeath serve [--db FILE] [--port 8080] [--host 127.0.0.1]`: the read-only web app over the
// run database (src/serve/). Opens the file read-only, prints the URL it listens on (stdout),
// and runs until interrupted. Binding anything but loopback prints a one-line warning.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { UserError } from '../errors.js';
import { createApp, isLoopback, listen, LOOPBACK_HOSTS } from '../serve/server.js';
import { DEFAULT_DB, log, parseCount, pidAlive, printJson } from './common.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('a local read-only web app over the run database: runs live, charts, every generation\'s text')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--port <n>', 'TCP port (0: any free port)', parseCount, 8080)
    .option('--host <address>', 'address to bind (anything but loopback exposes the data)', '127.0.0.1')
    .option('--json', 'print {"url": …} as one JSON document instead of the bare URL')
    .action(async (opts: { db: string; port: number; host: string; json?: boolean }) => {
      if (opts.port > 65535) throw new UserError(`--port ${opts.port} is not a TCP port (0 to 65535)`);
      const db = openDatabase(opts.db, { readonly: true });
      const loopback = isLoopback(opts.host);
      const app = createApp({
        db, dbLabel: opts.db, now: Date.now, pidAlive, log,
        allowedHosts: loopback ? [...new Set([...LOOPBACK_HOSTS, opts.host])] : null,
      });
      let url: string;
      try {
        url = await listen(app, opts.port, opts.host);
      } catch (e) {
        db.close();
        throw e;
      }
      if (!loopback) log(`heatdeath serve: warning: listening on ${opts.host}: the runs and every document are readable by anyone who can reach this port`);
      if (opts.json) printJson({ url, database: opts.db });
      else process.stdout.write(url + '\n');
      log(`serving ${opts.db} read-only at ${url} (Ctrl-C stops)`);
      await new Promise<void>((resolve) => {
        const stop = () => void app.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      db.close();
    });
}
