/**
 * Text files imported as modules (the source documents in data/sources/):
 * wrangler bundles `*.txt` as text by its default module rules, and the
 * workerd test pool does the same.
 */
declare module '*.txt' {
  const text: string;
  export default text;
}
