/**
 * Prepares local development before `wrangler dev`: creates `.dev.vars`
 * (git-ignored) with a random ADMIN_TOKEN if it does not exist yet. The
 * token is never printed; read it from the file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';

const path = new URL('../.dev.vars', import.meta.url);
if (existsSync(path)) {
  console.log('Using the ADMIN_TOKEN in .dev.vars for the write API.');
} else {
  writeFileSync(path, `# Local secrets for wrangler dev (git-ignored).\nADMIN_TOKEN=${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  console.log('Created .dev.vars with a random ADMIN_TOKEN for the write API (see the file).');
}
