import type { Db } from '../../db/client.js';
import { storedBytesBySlug } from '../content-index/queries.js';

/**
 * Hosted registries' storage quotas. They are checked when a push starts (at the token endpoint):
 * while usage is at or over the limit, pushes are refused and pulls go on. A push that starts under
 * the limit may end over it; the next one is refused. Usage comes from the content index, for any
 * number of registries in one SQL statement.
 */
export async function quotaRefusals(db: Db, limits: ReadonlyMap<string, bigint | null>): Promise<Map<string, string>> {
  const limited = [...limits].filter((entry): entry is [string, bigint] => entry[1] !== null);
  if (limited.length === 0) return new Map();
  const usage = await storedBytesBySlug(db, limited.map(([slug]) => slug));
  const refusals = new Map<string, string>();
  for (const [slug, limitBytes] of limited) {
    const bytes = usage.get(slug) ?? 0;
    if (bytes >= limitBytes) refusals.set(slug, `quota exceeded: registry ${slug} stores ${bytes} bytes, its quota is ${limitBytes} bytes`);
  }
  return refusals;
}
