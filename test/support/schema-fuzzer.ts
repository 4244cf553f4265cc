import {
  buildClientSchema,
  getNamedType,
  getNullableType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isScalarType,
} from 'graphql';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values the generator draws from: real IDs and names of several tenants, and garbage. */
export interface ValuePools {
  ids: string[];
  strings: string[];
}

export interface GeneratedOperation {
  kind: 'query' | 'mutation' | 'subscription';
  query: string;
  variables: Record<string, unknown>;
}

const MAX_SELECTION_DEPTH = 4;

/**
 * Builds random GraphQL operations from an introspected schema: a root field with arguments
 * (inline literals or variables, mostly valid, sometimes of the wrong type or missing), and a
 * selection walking object, interface and union types a few levels down.
 */
export class SchemaFuzzer {
  private readonly schema: GraphQLSchema;

  constructor(
    introspection: IntrospectionQuery,
    private readonly random: () => number,
    private readonly pools: ValuePools,
  ) {
    this.schema = buildClientSchema(introspection);
  }

  operation(kind: GeneratedOperation['kind']): GeneratedOperation {
    const root = kind === 'query' ? this.schema.getQueryType() : kind === 'mutation' ? this.schema.getMutationType() : this.schema.getSubscriptionType();
    const fields = Object.values(root!.getFields());
    const variables: Record<string, unknown> = {};
    const definitions: string[] = [];
    const selections = Array.from({ length: kind === 'query' ? 1 + this.int(3) : 1 }, (_, i) => {
      const field = this.pick(fields);
      const alias = i > 0 ? `a${i}: ` : '';
      return `${alias}${field.name}${this.args(field.args, variables, definitions)}${this.selection(field.type, 1, variables, definitions)}`;
    });
    const header = definitions.length > 0 ? `${kind} Fuzz(${definitions.join(', ')})` : kind;
    return { kind, query: `${header} { ${selections.join(' ')} }`, variables };
  }

  /** The same operation, broken: a character dropped, doubled or swapped for another. */
  corrupt(operation: GeneratedOperation): GeneratedOperation {
    const at = this.int(operation.query.length);
    const chars = ['{', '}', '(', ')', '$', '"', ':', '!', '@', '...', 'x', ' ', '[', '#'];
    const edits = [
      (q: string) => q.slice(0, at) + q.slice(at + 1),
      (q: string) => q.slice(0, at) + this.pick(chars) + q.slice(at),
      (q: string) => q.slice(0, at),
    ];
    return { ...operation, query: this.pick(edits)(operation.query) };
  }

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  private args(args: readonly GraphQLArgument[], variables: Record<string, unknown>, definitions: string[]): string {
    const given = args.filter((arg) => (isNonNullType(arg.type) ? !this.chance(0.03) : this.chance(0.5)));
    if (given.length === 0) return '';
    const rendered = given.map((arg) => {
      if (this.chance(0.5)) {
        const name = `v${definitions.length}`;
        const declared = this.chance(0.04) ? 'Int' : String(arg.type);
        definitions.push(`$${name}: ${declared}`);
        variables[name] = this.value(arg.type, 0);
        return `${arg.name}: $${name}`;
      }
      return `${arg.name}: ${literal(this.value(arg.type, 0), getNullableType(arg.type) as GraphQLInputType)}`;
    });
    return `(${rendered.join(', ')})`;
  }

  private selection(type: GraphQLOutputType, depth: number, variables: Record<string, unknown>, definitions: string[]): string {
    const named = getNamedType(type);
    if (isLeafType(named)) return '';
    if (depth > MAX_SELECTION_DEPTH) return ' { __typename }';
    const parts = ['__typename'];
    if (isAbstractType(named)) {
      const possible = this.schema.getPossibleTypes(named);
      for (let i = 0; i < 1 + this.int(2); i++) {
        const member = this.pick(possible);
        parts.push(`... on ${member.name}${this.selection(member, depth + 1, variables, definitions)}`);
      }
      if (isInterfaceType(named)) parts.push(...this.fields(named, depth, variables, definitions));
    } else if (isObjectType(named)) {
      parts.push(...this.fields(named, depth, variables, definitions));
    }
    if (this.chance(0.02)) parts.push('noSuchField');
    return ` { ${parts.join(' ')} }`;
  }

  private fields(type: GraphQLNamedType & { getFields(): Record<string, GraphQLField<unknown, unknown>> }, depth: number, variables: Record<string, unknown>, definitions: string[]): string[] {
    const fields = Object.values(type.getFields());
    return Array.from({ length: 1 + this.int(4) }, () => {
      const field = this.pick(fields);
      return `${field.name}${this.args(field.args, variables, definitions)}${this.selection(field.type, depth + 1, variables, definitions)}`;
    });
  }

  private value(type: GraphQLInputType, depth: number): unknown {
    if (isNonNullType(type)) return this.value(type.ofType, depth);
    if (this.chance(0.04)) return null;
    if (isListType(type)) return Array.from({ length: this.int(4) }, () => this.value(type.ofType, depth + 1));
    if (isEnumType(type)) return this.chance(0.05) ? 'NOT_A_VALUE' : this.pick(type.getValues()).value;
    if (isInputObjectType(type)) {
      if (depth > 3) return {};
      const entries = Object.values(type.getFields())
        .filter((field) => isNonNullType(field.type) || this.chance(0.5))
        .map((field) => [field.name, this.value(field.type, depth + 1)]);
      return Object.fromEntries(entries);
    }
    if (isScalarType(type)) return this.scalar(type.name);
    return null;
  }

  private scalar(name: string): unknown {
    if (this.chance(0.03)) return this.pick([{}, [], true, 'x', 1.5]);
    switch (name) {
      case 'ID':
        return this.pick(this.pools.ids);
      case 'String':
        return this.pick(this.pools.strings);
      case 'Int':
        return this.pick([0, 1, 2, 5, 10, 100, -1, 2 ** 31, 101]);
      case 'SafeInt':
        return this.pick([0, 1, 1024, 2 ** 40, -5, Number.MAX_SAFE_INTEGER]);
      case 'Float':
        return this.pick([0, 0.5, -1.25, 1e308]);
      case 'Boolean':
        return this.chance(0.5);
      case 'DateTime':
        return this.pick(['2020-01-01T00:00:00Z', new Date(Date.now() + 86_400_000).toISOString(), 'not a date', '9999-99-99']);
      default:
        return this.pick(this.pools.strings);
    }
  }
}

/** A JS value as a GraphQL literal of `type` (enums unquoted, input objects as `{ a: … }`). */
function literal(value: unknown, type: GraphQLInputType): string {
  if (value === null || value === undefined) return 'null';
  const inner = getNullableType(type) as GraphQLInputType;
  if (Array.isArray(value)) {
    const item = isListType(inner) ? (inner.ofType as GraphQLInputType) : inner;
    return `[${value.map((v) => literal(v, item)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const fields = isInputObjectType(inner) ? inner.getFields() : {};
    return `{ ${Object.entries(value as Record<string, unknown>)
      .map(([key, v]) => `${key}: ${literal(v, (fields[key]?.type ?? inner) as GraphQLInputType)}`)
      .join(', ')} }`;
  }
  if (typeof value === 'string' && isEnumType(getNamedType(inner))) return /^[A-Za-z_]\w*$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
