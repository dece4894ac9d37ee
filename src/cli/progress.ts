// Turns loop events into what a person watches on stderr: on a terminal, one live line with the
// generation, phase, a bar, rate and ETA; always, one summary line per finished generation and
// the verdicts at the end. Not a terminal (a log file, CI): summary lines only.

import type { LoopEvent, GenerationSummary } from '../loop/events.js';
import type { VerdictSummary } from '../loop/verdicts.js';
import { formatMetric, metricsShown } from '../metrics/registry.js';

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function bar(done: number, total: number, width = 20): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function summaryLine(s: GenerationSummary): string {
  // The registry's progress metrics of each coarse-graining; one not measured (δ̂) is left out.
  const shown = metricsShown('progress', 'coarse');
  const parts = Object.entries(s.coarse).map(
    ([c, m]) => `${c}: ${shown.filter((d) => m[d.key] !== null && m[d.key] !== undefined).map((d) => `${d.tag ?? d.key} ${formatMetric(d.key, m[d.key])}`).join(' ')}`,
  );
  const v = s.verdicts.map((x) => `${x.coarse}=${x.verdict}`).join(' ');
  return `gen ${String(s.gen).padStart(String(s.generations).length)}/${s.generations}  loss ${fmt(s.trainLoss)} val ${fmt(s.valLoss)}${s.valLossSe !== null ? ` ± ${fmt(s.valLossSe)}` : ''}  ${parts.join('  ')}  [${v}]  ${s.seconds.toFixed(1)}s`;
}

/** The one-line notice of a resume under another matrix-product kernel. */
export function kernelChangeLine(c: { from: string; to: string; fromGen: number }): string {
  return `note: generations 0–${c.fromGen - 1} were computed with the ${c.from} matrix-product kernel and this machine uses ${c.to}, so the continuation will not be bit-identical to an uninterrupted run (recorded in the run's kernel history)`;
}

export function verdictLines(verdicts: readonly VerdictSummary[]): string[] {
  return verdicts.map((v) => `  ${v.coarse.padEnd(7)} ${v.verdict.padEnd(13)} ${v.reasons}`);
}

export function progressReporter(stream: NodeJS.WriteStream, now: () => number): (e: LoopEvent) => void {
  const tty = Boolean(stream.isTTY);
  let phaseStart = now();
  let lastDraw = 0;
  let live = false;
  let genTimes: number[] = [];
  let G = 0;
  let gen = 0;
  const clear = () => {
    if (live) stream.write('\r\x1b[2K');
    live = false;
  };
  const line = (s: string) => {
    clear();
    stream.write(s + '\n');
  };
  return (e) => {
    switch (e.type) {
      case 'notice':
        line(`heatdeath: ${e.message}`);
        break;
      case 'start':
        G = e.config.generations;
        if (e.kernelChange) line(kernelChangeLine(e.kernelChange));
        line(`run ${e.run} (id ${e.runId}) on ${e.backend}: ${e.config.model} on ${e.config.corpus}, T ${e.config.temperature}, λ ${e.config.freshFraction}, ${e.config.policy}, ${e.config.retrain}, N ${e.config.samples}${e.fromGen > 0 ? `, resuming at generation ${e.fromGen}` : ''}`);
        break;
      case 'phase':
        phaseStart = now();
        gen = e.gen;
        break;
      case 'progress': {
        if (!tty) break;
        const t = now();
        if (t - lastDraw < 100 && e.done < e.total) break;
        lastDraw = t;
        const el = (t - phaseStart) / 1000;
        const rate = el > 0 ? e.done / el : 0;
        const eta = rate > 0 ? (e.total - e.done) / rate : NaN;
        const avg = genTimes.length ? genTimes.reduce((a, b) => a + b, 0) / genTimes.length : NaN;
        const runEta = Number.isFinite(avg) ? ` · run ETA ${duration(avg * (G - gen + 1))}` : '';
        stream.write(`\r\x1b[2Kgen ${gen}/${G} ${e.phase.padEnd(6)} ${bar(e.done, e.total)} ${e.done}/${e.total} ${rate.toFixed(1)}/s ETA ${duration(eta)}${runEta}`);
        live = true;
        break;
      }
      case 'generation':
        G = e.summary.generations;
        if (e.summary.gen > 0) genTimes = [...genTimes.slice(-9), e.summary.seconds];
        line(summaryLine(e.summary));
        break;
      case 'end':
        clear();
        break;
    }
  };
}
