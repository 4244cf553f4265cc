const MIN_LENGTH = 32;
/**
 * The character-frequency estimate of 32 random hex digits averages ~112 bits and spreads by ~5:
 * 85 keeps them all (none refused in a million) while refusing strings of a handful of characters.
 */
const MIN_ESTIMATED_BITS = 85;
/**
 * Random hex steps by at most one between neighbours ~17% of the time ("0"–"9" and "a"–"f" are
 * runs): at 30%, one `openssl rand -hex 16` in 30 was refused. Keyboard runs step over 90%.
 */
const MAX_STEPPING_SHARE = 0.6;

/**
 * Why a secret a person chose (BERTH_ADMIN_TOKEN) is too weak, or null when it looks random.
 * A heuristic for the obvious cases: too short, few distinct characters, runs like "abcd" or
 * "1111", and repeated chunks. Generated secrets pass it easily.
 */
export function weakSecretProblem(secret: string): string | null {
  const chars = [...secret];
  if (chars.length < MIN_LENGTH) return `is ${chars.length} characters long`;
  if (estimatedBits(chars) < MIN_ESTIMATED_BITS) return 'uses too few distinct characters';
  if (steppingShare(chars) > MAX_STEPPING_SHARE) return 'is made of runs of repeated or consecutive characters';
  if (distinctShare(chars, 4) < 0.85) return 'repeats itself';
  return null;
}

/** Shannon entropy of the character frequencies, times the length. */
function estimatedBits(chars: string[]): number {
  const counts = new Map<string, number>();
  for (const char of chars) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perChar = 0;
  for (const count of counts.values()) perChar -= (count / chars.length) * Math.log2(count / chars.length);
  return perChar * chars.length;
}

/** The share of neighbours that repeat or count up or down by one ("aa", "ab", "ba"). */
function steppingShare(chars: string[]): number {
  let stepping = 0;
  for (let i = 1; i < chars.length; i++) {
    if (Math.abs(chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!) <= 1) stepping++;
  }
  return stepping / (chars.length - 1);
}

/** The share of distinct chunks of `size` characters among all of them. */
function distinctShare(chars: string[], size: number): number {
  const chunks = new Set<string>();
  const total = chars.length - size + 1;
  for (let i = 0; i < total; i++) chunks.add(chars.slice(i, i + size).join(''));
  return chunks.size / total;
}
