import { builder } from './builder.js';

export const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

export function prismaDirection(direction: 'ASC' | 'DESC'): 'asc' | 'desc' {
  return direction === 'ASC' ? 'asc' : 'desc';
}
