import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An ISO 8601 date and time in UTC, e.g. 2024-01-15T10:30:00.000Z.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
  return date;
}

builder.scalarType('SafeInt', {
  description: 'An integer between -(2^53-1) and 2^53-1. Every byte size is one: they pass 2^31.',
  serialize: (value) => {
    const number = typeof value === 'bigint' ? Number(value) : value;
    if (!Number.isSafeInteger(number)) throw new GraphQLError(`SafeInt cannot represent ${String(value)}`);
    return number;
  },
  parseValue: (value) => parseSafeInt(value),
  parseLiteral: (ast) => parseSafeInt(ast.kind === Kind.INT ? Number(ast.value) : null),
});

function parseSafeInt(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new GraphQLError('SafeInt must be an integer of at most 2^53-1');
  return value;
}
