/**
 * berth's expected failures. Each class here is also a GraphQL object type of the same name
 * (src/schema/errors.ts), so a mutation can return it as data inside its `<Name>Result` union.
 * Anything that is not a BerthError is unexpected and stays masked by yoga.
 */
export class BerthError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An input broke a rule; `field` names the input field (dotted path inside `input`). */
export class ValidationError extends BerthError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** The object does not exist, or the viewer may not know that it exists. */
export class NotFoundError extends BerthError {}

/** The request collides with existing state: a taken slug, a duplicate name, a non-empty registry. */
export class ConflictError extends BerthError {}

/** The viewer can see the object but lacks the role for this action. */
export class ForbiddenError extends BerthError {}

/** The V2 backend did not answer (down, timed out, 5xx). */
export class BackendUnavailableError extends BerthError {}

/** Messages often quote input (a field name, an ID that leads nowhere); this bound keeps a huge input from being echoed back. */
export const MAX_ERROR_MESSAGE_LENGTH = 300;

export function clipMessage(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}… (message clipped)`;
}
