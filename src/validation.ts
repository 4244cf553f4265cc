import { ValidationError } from './errors.js';

const NAME_MAX_LENGTH = 100;

/** A display name: trimmed, 1 to 100 characters, no control characters. */
export function requireDisplayName(value: string, field: string): string {
  const name = value.trim();
  if (name.length === 0) throw new ValidationError('must not be empty', field);
  if (name.length > NAME_MAX_LENGTH) throw new ValidationError(`must be at most ${NAME_MAX_LENGTH} characters`, field);
  if (/\p{Cc}/u.test(name)) throw new ValidationError('must not contain control characters', field);
  return name;
}

/** A byte count given by a person: a positive safe integer. */
export function requirePositiveBytes(value: number, field: string): bigint {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ValidationError('must be a positive number of bytes', field);
  return BigInt(value);
}
