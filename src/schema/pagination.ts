import { type DefaultConnectionArguments } from '@pothos/plugin-relay';
import { GraphQLError, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import type { Page, PageArgs } from '../registry/content.js';

const MAX_PAGE_SIZE = 100;

/** The connection arguments of a content list, checked: a page holds 0 to 100 items. */
export function pageArgs(args: DefaultConnectionArguments): PageArgs {
  for (const [name, value] of [['first', args.first], ['last', args.last]] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new GraphQLError(`${name} must be between 0 and ${MAX_PAGE_SIZE}`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
  }
  return { first: args.first, after: args.after, last: args.last, before: args.before };
}

/** A content page as a Relay connection whose totalCount is counted only when asked for. */
export function connectionOf<T, N>(page: Page<T>, toNode: (item: T) => N) {
  return { pageInfo: page.pageInfo, edges: page.edges.map(({ cursor, node }) => ({ cursor, node: toNode(node) })), totalCount: page.totalCount };
}

/** Page sizes stand in for the node count, so a nested query is priced by what it asks for. */
export function connectionComplexity(args: DefaultConnectionArguments) {
  return { field: 1, multiplier: (args.first ?? args.last ?? 20) / 10 };
}

/**
 * Whether the field being resolved selects `name` among its subfields, through fragments too. A
 * subfield under @skip or @include counts as selected: at worst it is computed for nothing.
 */
export function selectsSubfield(info: GraphQLResolveInfo, name: string): boolean {
  const within = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return within(selection.selectionSet);
      return within(info.fragments[selection.name.value]?.selectionSet);
    }) ?? false;
  return info.fieldNodes.some((node) => within(node.selectionSet));
}
