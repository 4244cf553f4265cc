import { decodeGlobalID } from '@pothos/plugin-relay';
import { NotFoundError } from '../errors.js';

/**
 * Decodes a global ID that must name a `typename`. A malformed ID or one of another type is
 * reported like a missing object: the client sent an ID that does not lead anywhere.
 */
export function decodeIdOf(typename: string, globalId: string, field: string): string {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    throw new NotFoundError(`${field}: "${globalId}" is not a ${typename} ID`);
  }
  if (decoded.typename !== typename) throw new NotFoundError(`${field}: "${globalId}" is a ${decoded.typename} ID, not a ${typename} ID`);
  return decoded.id;
}
