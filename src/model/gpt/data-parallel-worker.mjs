// Entry of the training worker thread (see data-parallel.ts): a worker does not inherit the
// TypeScript loader its parent registered, so this plain-JS file registers it, then loads the
// worker proper.
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-worker.ts');
