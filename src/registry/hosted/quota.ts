import type { RegistryLoaders } from '../loaders.js';
import { registryUsage } from '../usage.js';

/**
 * A hosted registry's storage quota. It is checked when a push starts (at the token endpoint):
 * while usage is at or over the limit, pushes are refused and pulls go on. A push that starts
 * under the limit may end over it; the next one is refused.
 */
export async function quotaExceeded(loaders: RegistryLoaders, slug: string, limitBytes: bigint | null): Promise<string | null> {
  if (limitBytes === null) return null;
  const { bytes } = await registryUsage(loaders, slug);
  return bytes >= limitBytes ? `quota exceeded: registry ${slug} stores ${bytes} bytes, its quota is ${limitBytes} bytes` : null;
}
