import {
  BackendUnavailableError,
  BerthError,
  clipMessage,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<BerthError>('Error').implement({
  description: 'An expected failure, returned as data in a mutation result union.',
  fields: (t) => ({ message: t.string({ resolve: (error) => clipMessage(error.message) }) }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'An input broke a rule; `field` is the path of the input field.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ field: t.exposeString('field') }),
});

for (const [ErrorClass, description] of [
  [NotFoundError, 'The object does not exist or is not visible to the viewer.'],
  [ConflictError, 'The request collides with existing state.'],
  [ForbiddenError, 'The viewer may see the object but lacks the role for this action.'],
  [BackendUnavailableError, 'The registry backend did not answer.'],
] as const) {
  builder.objectType(ErrorClass, {
    name: ErrorClass.name,
    description,
    interfaces: [ErrorInterface],
    isTypeOf: (value) => value instanceof ErrorClass,
  });
}
