/**
 * The `detail` of berth's registry port's answer to a write refused for maintenance (a GC window),
 * by which berth's client tells it from an ordinary 405. A module of its own, free of imports: the
 * relay runs in a worker thread whose heap should hold the relay and little else.
 */
export const READ_ONLY_DETAIL = { maintenance: 'read-only' } as const;

export function isReadOnlyDetail(detail: unknown): boolean {
  return typeof detail === 'object' && detail !== null && 'maintenance' in detail && detail.maintenance === READ_ONLY_DETAIL.maintenance;
}
