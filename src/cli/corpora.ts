// `heatdeath corpora`: the built-in corpora and the user files in the corpora directory, with
// documents, token counts and label proportions. Thin: the numbers come from corpus/summary.ts.

import type { Command } from 'commander';
import { listCorpora } from '../corpus/summary.js';
import type { CorpusSummary, LabelCount } from '../corpus/types.js';
import { DEFAULT_CORPORA_DIR, log, printJson } from './common.js';

interface CorporaOptions {
  json?: boolean;
  corporaDir: string;
  bpe: boolean;
}

export function register(program: Command): void {
  program
    .command('corpora')
    .description('built-in and user corpora: documents, tokens, labels and their proportions')
    .option('--json', 'print one JSON document on stdout')
    .option('--corpora-dir <dir>', 'directory of user corpora (.txt, .jsonl)', DEFAULT_CORPORA_DIR)
    .option('--no-bpe', 'skip counting BPE tokens (about two seconds, mostly Brown)')
    .action((opts: CorporaOptions) => {
      const started = performance.now();
      const corpora = listCorpora(opts.corporaDir, { bpe: opts.bpe });
      log(`read ${corpora.length} corpora in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (opts.json) printJson({ corporaDir: opts.corporaDir, corpora });
      else process.stdout.write(formatTable(corpora, opts.corporaDir));
    });
}

function percentages(labels: LabelCount[]): string {
  return labels.map((l) => `${l.label} ${(100 * l.share).toFixed(1)}%`).join(', ');
}

/** Right-aligns numeric columns, left-aligns text; the last column may run long. */
function formatTable(corpora: CorpusSummary[], corporaDir: string): string {
  const header = ['name', 'source', 'documents', 'char tokens', 'bpe tokens', 'labels'];
  const rows = corpora.map((c) => [
    c.name,
    c.source,
    c.documents.toLocaleString('en-US'),
    `${c.charTokens.toLocaleString('en-US')} (${c.charVocab} distinct)`,
    c.bpeTokens === undefined ? '-' : `${c.bpeTokens.toLocaleString('en-US')} (${c.bpeVocab} distinct)`,
    c.error ? `error: ${c.error}` : c.labels.length > 0 ? percentages(c.labels) : 'unlabelled',
  ]);
  const numeric = [false, false, true, true, true, false];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  // Fine labels (Brown's 15 genres) do not fit a column: one indented line per corpus.
  for (const c of corpora) if (c.fineLabels) out.push('', `${c.name} fine labels: ${percentages(c.fineLabels)}`);
  if (!corpora.some((c) => c.source !== 'builtin')) out.push('', `no user corpora in ${corporaDir}/ (add NAME.txt or NAME.jsonl)`);
  return out.join('\n') + '\n';
}
