// `heatdeath bench`: training and sampling throughput of a model on this machine and backend.
// Parses options, initialises the backend, calls src/model/bench.ts with the process clocks, and
// adds what only the process knows: peak RSS and the machine's load (timings on a busy machine
// are low; the CPU-time rates show the work itself).

import { type Command, InvalidArgumentError } from 'commander';
import { loadavg } from 'node:os';
import { backendChoices, initBackend, type BackendChoice } from '../backend.js';
import { UserError } from '../errors.js';
import { runBench } from '../model/bench.js';
import { modelKinds } from '../model/index.js';
import { productKernel } from '../kernels/simd.js';
import type { ModelKind, SizePreset } from '../model/types.js';
import { log, parseCount, printJson } from './common.js';

interface BenchCliOptions {
  model: string;
  size: string;
  backend: string;
  docLength: number;
  steps: number;
  threads?: number;
  json?: boolean;
}

const sizes: SizePreset[] = ['tiny', 'small', 'base'];

function positive(value: string): number {
  const x = parseCount(value);
  if (x < 1) throw new InvalidArgumentError(`'${value}' must be at least 1.`);
  return x;
}

const fmtRate = (r: { tokensPerSecond: number; cpuTokensPerSecond?: number }) =>
  `${Math.round(r.tokensPerSecond).toLocaleString('en-US')} tokens/s` +
  (r.cpuTokensPerSecond ? ` (${Math.round(r.cpuTokensPerSecond).toLocaleString('en-US')} per CPU-second)` : '');

export function register(program: Command): void {
  program
    .command('bench')
    .description('training and sampling throughput on this machine and backend')
    .option('--model <kind>', `model: ${modelKinds.join(' or ')}`, 'transformer')
    .option('--size <preset>', 'transformer preset: tiny, small, base', 'small')
    .option('--backend <name>', `backend: ${backendChoices.join(', ')}`, 'auto')
    .option('--doc-length <n>', 'mean length of the synthetic documents, in tokens', positive, 8)
    .option('--steps <n>', 'timed training steps (after 3 warm-up steps)', positive, 7)
    .option('--threads <n>', 'transformer training threads: 1 or 2 (default: the model\'s, 2)', positive)
    .option('--json', 'print one JSON document')
    .action(async (o: BenchCliOptions) => {
      if (!modelKinds.includes(o.model as ModelKind)) throw new UserError(`unknown model '${o.model}' (choose from ${modelKinds.join(', ')})`);
      if (!sizes.includes(o.size as SizePreset)) throw new UserError(`unknown size '${o.size}' (choose from ${sizes.join(', ')})`);
      const backend = await initBackend(o.backend as BackendChoice);
      if (!o.json) log(`bench: ${o.model}${o.model === 'transformer' ? ` ${o.size}` : ''} on ${backend} …`);
      const cpuMs = () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
      const load = loadavg();
      const r = await runBench({
        kind: o.model as ModelKind,
        size: o.size as SizePreset,
        clock: () => performance.now(),
        cpuClock: cpuMs,
        docLength: o.docLength,
        timedSteps: o.steps,
        threads: o.threads,
      });
      const result = {
        backend,
        // the transformer's matrix products (the n-gram has its own plain-JS sampling)
        products: productKernel(),
        ...r,
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        loadAverage: { before: load[0], after: loadavg()[0] },
      };
      if (o.json) return printJson(result);
      const t = r.train;
      const lines = [
        `backend           ${backend} (matrix products: ${result.products})`,
        `model             ${r.model} ${JSON.stringify(r.config)}`,
        `parameters        ${r.params.toLocaleString('en-US')}`,
        `training          ${fmtRate(t)}  (${t.tokens} tokens/step, median step ${t.ms.toFixed(1)} ms of ${t.steps})`,
        `sampling batch 1  ${fmtRate(r.sample.batch1)}  (${r.sample.batch1.docs} documents, median of ${r.sample.rounds} rounds)`,
        `sampling batch 64 ${fmtRate(r.sample.batch64)}  (${r.sample.batch64.docs} documents, median of ${r.sample.rounds} rounds)`,
        `peak RSS          ${result.peakRssMB} MB`,
        `load average      ${load[0].toFixed(2)} → ${loadavg()[0].toFixed(2)} (1 min; timings are low on a busy machine)`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
