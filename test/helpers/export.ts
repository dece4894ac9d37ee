// Fields the export gained after a digest was recorded: `gen0_loglik` and `selected` (schema 5,
// curated loops) only add values, so digests of documents leave them out and the tests that
// own them check them apart.

/** The fields added to every exported document since the digests were made. */
export const ADDED_FIELDS = ['gen0_loglik', 'selected'];

/** An export's jsonl without the added fields (key order kept). */
export function withoutAddedFields(jsonl: string): string {
  return jsonl.split('\n').map((line) => {
    if (line === '') return line;
    const d = JSON.parse(line) as Record<string, unknown>;
    for (const k of ADDED_FIELDS) delete d[k];
    return JSON.stringify(d);
  }).join('\n');
}
