/** Prisma's P2002: a unique constraint refused the write (a race lost to a concurrent request). */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}
