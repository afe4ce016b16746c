/**
 * graphql.* builtins. Parsing and validation use graphql-js (the reference implementation); results are shaped
 * like OPA's (gqlparser's AST as JSON, with positions, nulls and empty lists pruned) and errors are worded like
 * gqlparser's ("Expected Name, found } in GraphQL string at location 1:9").
 */
import { GraphQLError, Kind, buildASTSchema, parse, validate, validateSchema } from 'graphql';
import type {
  ArgumentNode,
  ConstDirectiveNode,
  DefinitionNode,
  DirectiveNode,
  DocumentNode,
  FieldDefinitionNode,
  GraphQLSchema,
  InputValueDefinitionNode,
  SelectionNode,
  TypeNode,
  ValueNode,
  VariableDefinitionNode,
} from 'graphql';
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import { ObjectValue, fromJS, toJSONText } from '../value.js';

type J = null | boolean | number | string | J[] | { [k: string]: J };

const MAX_TOKENS = 100_000;

// ---------------------------------------------------------------------------------------------------------------
// Errors, worded like gqlparser

/** Quote-less punctuators ("found }"), gqlparser's wording for empty lists and bad characters. */
function gqlMessage(e: GraphQLError, source: string): string {
  let msg = e.message.replace(/^Syntax Error: /, '').replace(/\.$/, '');
  const loc = e.locations?.[0];
  const line = loc?.line ?? 0;
  let col = loc?.column ?? 0;
  msg = msg.replace(/"([!$&()[\]{}|:=@]|\.\.\.)"/g, '$1');
  msg = msg.replace(/^Unexpected variable "\$[^"]*" in constant value/, 'Unexpected $');
  if (/^(Unterminated string|Unexpected character|Invalid character|Invalid number)/.test(msg))
    msg = 'Unexpected <Invalid>';
  const desc = /^Unexpected description/.exec(msg);
  if (desc && loc) {
    const lineText = source.split(/\r\n|\n|\r/)[line - 1] ?? '';
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(lineText.slice(col - 1));
    msg = `Unexpected String "${m ? m[1] : ''}"`;
  }
  if (/^Unexpected String /.test(msg) || /^Unexpected String "/.test(msg)) col += 1;
  if (msg === 'Expected Name, found }' && loc) {
    // gqlparser reports an empty {...} list as such.
    const before = source
      .split(/\r\n|\n|\r/)
      .slice(0, line)
      .join('\n');
    const upTo = before.slice(
      0,
      before.length - ((source.split(/\r\n|\n|\r/)[line - 1] ?? '').length - (col - 1)),
    );
    if (/\{\s*$/.test(upTo)) msg = 'expected at least one definition, found }';
  }
  return `${msg} in GraphQL string at location ${line}:${col}`;
}

function fail(e: unknown, source: string): never {
  if (e instanceof GraphQLError) throw new BuiltinError(gqlMessage(e, source));
  if (e instanceof BuiltinError) throw e;
  throw new BuiltinError(e instanceof Error ? e.message : String(e));
}

function parseDoc(source: string): DocumentNode {
  // gqlparser accepts an empty document.
  if (source.trim() === '') return { kind: Kind.DOCUMENT, definitions: [] };
  try {
    // A token budget bounds the work one hostile document can cause.
    return parse(source, { allowLegacyFragmentVariables: true, maxTokens: MAX_TOKENS });
  } catch (e) {
    return fail(e, source);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// AST conversion (graphql-js -> gqlparser JSON)

const VALUE_KINDS: Record<string, number> = {
  [Kind.VARIABLE]: 0,
  [Kind.INT]: 1,
  [Kind.FLOAT]: 2,
  [Kind.STRING]: 3,
  [Kind.BOOLEAN]: 5,
  [Kind.NULL]: 6,
  [Kind.ENUM]: 7,
  [Kind.LIST]: 8,
  [Kind.OBJECT]: 9,
};

function typeJ(t: TypeNode): J {
  if (t.kind === Kind.NON_NULL_TYPE) return { ...(typeJ(t.type) as { [k: string]: J }), NonNull: true };
  if (t.kind === Kind.LIST_TYPE) return { NamedType: '', Elem: typeJ(t.type), NonNull: false };
  return { NamedType: t.name.value, NonNull: false };
}

function valueJ(v: ValueNode): J {
  const out: { [k: string]: J } = { ExpectedTypeHasDefault: false, Kind: VALUE_KINDS[v.kind] ?? 0, Raw: '' };
  switch (v.kind) {
    case Kind.VARIABLE:
      out.Raw = v.name.value;
      break;
    case Kind.INT:
    case Kind.FLOAT:
    case Kind.ENUM:
      out.Raw = v.value;
      break;
    case Kind.STRING:
      out.Raw = v.value;
      if (v.block) out.Kind = 4;
      break;
    case Kind.BOOLEAN:
      out.Raw = v.value ? 'true' : 'false';
      break;
    case Kind.NULL:
      out.Raw = 'null';
      break;
    case Kind.LIST:
      out.Children = v.values.map((x) => ({ Name: '', Value: valueJ(x) }));
      break;
    case Kind.OBJECT:
      out.Children = v.fields.map((f) => ({ Name: f.name.value, Value: valueJ(f.value) }));
      break;
  }
  return out;
}

const argsJ = (args: readonly ArgumentNode[] | undefined): J =>
  (args ?? []).map((a) => ({ Name: a.name.value, Value: valueJ(a.value) }));

const directivesJ = (ds: readonly (DirectiveNode | ConstDirectiveNode)[] | undefined): J =>
  (ds ?? []).map((d) => ({ Name: d.name.value, Arguments: argsJ(d.arguments), Location: '' }));

function varDefsJ(vs: readonly VariableDefinitionNode[] | undefined): J {
  return (vs ?? []).map((v) => ({
    Variable: v.variable.name.value,
    Type: typeJ(v.type),
    DefaultValue: v.defaultValue ? valueJ(v.defaultValue) : null,
    Directives: directivesJ(v.directives),
    Used: false,
  }));
}

function selectionsJ(sel: readonly SelectionNode[] | undefined): J {
  return (sel ?? []).map((s): J => {
    switch (s.kind) {
      case Kind.FIELD:
        return {
          Alias: s.alias?.value ?? s.name.value,
          Name: s.name.value,
          Arguments: argsJ(s.arguments),
          Directives: directivesJ(s.directives),
          SelectionSet: selectionsJ(s.selectionSet?.selections),
        };
      case Kind.FRAGMENT_SPREAD:
        return { Name: s.name.value, Directives: directivesJ(s.directives) };
      case Kind.INLINE_FRAGMENT:
        return {
          TypeCondition: s.typeCondition?.name.value ?? '',
          Directives: directivesJ(s.directives),
          SelectionSet: selectionsJ(s.selectionSet.selections),
        };
    }
  });
}

function queryJ(doc: DocumentNode): J {
  const ops: J[] = [];
  const frags: J[] = [];
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) {
      ops.push({
        Operation: d.operation,
        Name: d.name?.value ?? '',
        VariableDefinitions: varDefsJ(d.variableDefinitions),
        Directives: directivesJ(d.directives),
        SelectionSet: selectionsJ(d.selectionSet.selections),
      });
    } else if (d.kind === Kind.FRAGMENT_DEFINITION) {
      frags.push({
        Name: d.name.value,
        VariableDefinition: varDefsJ(d.variableDefinitions),
        TypeCondition: d.typeCondition.name.value,
        Directives: directivesJ(d.directives),
        SelectionSet: selectionsJ(d.selectionSet.selections),
      });
    } else throw new BuiltinError(`unexpected ${d.kind} in a query document`);
  }
  return { Operations: ops, Fragments: frags };
}

function inputValueJ(a: InputValueDefinitionNode): J {
  return {
    Description: a.description?.value ?? '',
    Name: a.name.value,
    DefaultValue: a.defaultValue ? valueJ(a.defaultValue) : null,
    Type: typeJ(a.type),
    Directives: directivesJ(a.directives),
  };
}

function fieldDefJ(f: FieldDefinitionNode): J {
  return {
    Description: f.description?.value ?? '',
    Name: f.name.value,
    Arguments: (f.arguments ?? []).map(inputValueJ),
    Type: typeJ(f.type),
    Directives: directivesJ(f.directives),
  };
}

const TYPE_KINDS: Record<string, string> = {
  [Kind.SCALAR_TYPE_DEFINITION]: 'SCALAR',
  [Kind.SCALAR_TYPE_EXTENSION]: 'SCALAR',
  [Kind.OBJECT_TYPE_DEFINITION]: 'OBJECT',
  [Kind.OBJECT_TYPE_EXTENSION]: 'OBJECT',
  [Kind.INTERFACE_TYPE_DEFINITION]: 'INTERFACE',
  [Kind.INTERFACE_TYPE_EXTENSION]: 'INTERFACE',
  [Kind.UNION_TYPE_DEFINITION]: 'UNION',
  [Kind.UNION_TYPE_EXTENSION]: 'UNION',
  [Kind.ENUM_TYPE_DEFINITION]: 'ENUM',
  [Kind.ENUM_TYPE_EXTENSION]: 'ENUM',
  [Kind.INPUT_OBJECT_TYPE_DEFINITION]: 'INPUT_OBJECT',
  [Kind.INPUT_OBJECT_TYPE_EXTENSION]: 'INPUT_OBJECT',
};

function typeDefJ(d: DefinitionNode): J {
  const n = d as DefinitionNode & {
    name: { value: string };
    description?: { value: string };
    directives?: readonly ConstDirectiveNode[];
    interfaces?: readonly { name: { value: string } }[];
    fields?: readonly (FieldDefinitionNode | InputValueDefinitionNode)[];
    types?: readonly { name: { value: string } }[];
    values?: readonly {
      name: { value: string };
      description?: { value: string };
      directives?: readonly ConstDirectiveNode[];
    }[];
  };
  const fields = (n.fields ?? []).map((f) =>
    f.kind === Kind.FIELD_DEFINITION ? fieldDefJ(f) : inputValueJ(f),
  );
  return {
    Kind: TYPE_KINDS[d.kind] ?? '',
    Description: n.description?.value ?? '',
    Name: n.name.value,
    Directives: directivesJ(n.directives),
    Interfaces: (n.interfaces ?? []).map((i) => i.name.value),
    Fields: fields,
    Types: (n.types ?? []).map((t) => t.name.value),
    EnumValues: (n.values ?? []).map((v) => ({
      Description: v.description?.value ?? '',
      Name: v.name.value,
      Directives: directivesJ(v.directives),
    })),
    BuiltIn: false,
  };
}

function schemaJ(doc: DocumentNode): J {
  const out: { [k: string]: J[] } = {
    Schema: [],
    SchemaExtension: [],
    Directives: [],
    Definitions: [],
    Extensions: [],
  };
  for (const d of doc.definitions) {
    if (d.kind === Kind.SCHEMA_DEFINITION || d.kind === Kind.SCHEMA_EXTENSION) {
      (d.kind === Kind.SCHEMA_DEFINITION ? out.Schema! : out.SchemaExtension!).push({
        Description: d.kind === Kind.SCHEMA_DEFINITION ? (d.description?.value ?? '') : '',
        Directives: directivesJ(d.directives),
        OperationTypes: (d.operationTypes ?? []).map((o) => ({
          Operation: o.operation,
          Type: o.type.name.value,
        })),
      });
    } else if (d.kind === Kind.DIRECTIVE_DEFINITION) {
      out.Directives!.push({
        Description: d.description?.value ?? '',
        Name: d.name.value,
        Arguments: (d.arguments ?? []).map(inputValueJ),
        Locations: d.locations.map((l) => l.value),
        IsRepeatable: d.repeatable,
      });
    } else {
      if (TYPE_KINDS[d.kind] === undefined)
        throw new BuiltinError(`unexpected ${d.kind} in a schema document`);
      (d.kind.endsWith('Extension') ? out.Extensions! : out.Definitions!).push(typeDefJ(d));
    }
  }
  return out;
}

/** OPA's pruning: drop Position, nulls, and lists/objects that end up empty. */
function prune(v: J): J | undefined {
  if (v === null) return undefined;
  if (Array.isArray(v)) {
    const out = v.map(prune).filter((x): x is J => x !== undefined);
    return out.length > 0 ? out : undefined;
  }
  if (typeof v === 'object') {
    const out: { [k: string]: J } = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Position') continue;
      const p = prune(x);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return v;
}

function toValue(j: J): Value {
  return fromJS(prune(j) ?? {});
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

/**
 * gqlparser accepts `extend type X` for a type that is never defined (it creates X); graphql-js does not, so such
 * extensions are turned into definitions before building the schema.
 */
function definedExtensions(doc: DocumentNode): DocumentNode {
  const defined = new Set<string>();
  for (const d of doc.definitions)
    if ('name' in d && d.name && !d.kind.endsWith('Extension')) defined.add(d.name.value);
  const toDef: Record<string, Kind> = {
    [Kind.OBJECT_TYPE_EXTENSION]: Kind.OBJECT_TYPE_DEFINITION,
    [Kind.INTERFACE_TYPE_EXTENSION]: Kind.INTERFACE_TYPE_DEFINITION,
    [Kind.UNION_TYPE_EXTENSION]: Kind.UNION_TYPE_DEFINITION,
    [Kind.ENUM_TYPE_EXTENSION]: Kind.ENUM_TYPE_DEFINITION,
    [Kind.INPUT_OBJECT_TYPE_EXTENSION]: Kind.INPUT_OBJECT_TYPE_DEFINITION,
    [Kind.SCALAR_TYPE_EXTENSION]: Kind.SCALAR_TYPE_DEFINITION,
  };
  const defs = doc.definitions.map((d) => {
    const kind = toDef[d.kind];
    if (kind && 'name' in d && d.name && !defined.has(d.name.value)) {
      defined.add(d.name.value);
      return { ...d, kind } as unknown as DefinitionNode;
    }
    return d;
  });
  return { ...doc, definitions: defs };
}

function buildSchema(source: string, doc: DocumentNode): GraphQLSchema {
  let schema: GraphQLSchema;
  try {
    schema = buildASTSchema(definedExtensions(doc));
  } catch (e) {
    return fail(e, source);
  }
  // gqlparser does not require a Query type.
  const errors = validateSchema(schema).filter((e) => !/^Query root type must be provided/.test(e.message));
  if (errors.length > 0) fail(errors[0], source);
  // Rebuilt as already validated, so query validation does not re-check (and refuse) a schema without Query.
  return buildASTSchema(definedExtensions(doc), { assumeValid: true, assumeValidSDL: true });
}

function checkQuery(schema: GraphQLSchema, doc: DocumentNode, source: string): void {
  let errors: readonly GraphQLError[];
  try {
    errors = validate(schema, doc);
  } catch (e) {
    return fail(e, source);
  }
  if (errors.length > 0) fail(errors[0], source);
}

// ---------------------------------------------------------------------------------------------------------------
// AST objects (as parse_query / parse_schema return them) back to GraphQL text

type O = { [k: string]: unknown };
const arr = (x: unknown): O[] => (Array.isArray(x) ? (x as O[]) : []);
const s = (x: unknown): string => (typeof x === 'string' ? x : '');

function typeText(t: unknown): string {
  const o = (t ?? {}) as O;
  const base = o.Elem ? `[${typeText(o.Elem)}]` : s(o.NamedType);
  return base + (o.NonNull === true ? '!' : '');
}

function valueText(v: unknown): string {
  const o = (v ?? {}) as O;
  const raw = s(o.Raw);
  switch (o.Kind) {
    case 0:
      return '$' + raw;
    case 3:
    case 4:
      return JSON.stringify(raw);
    case 8:
      return (
        '[' +
        arr(o.Children)
          .map((c) => valueText(c.Value))
          .join(', ') +
        ']'
      );
    case 9:
      return (
        '{' +
        arr(o.Children)
          .map((c) => `${s(c.Name)}: ${valueText(c.Value)}`)
          .join(', ') +
        '}'
      );
    default:
      return raw;
  }
}

const argsText = (a: unknown): string => {
  const list = arr(a);
  return list.length ? '(' + list.map((x) => `${s(x.Name)}: ${valueText(x.Value)}`).join(', ') + ')' : '';
};
const dirsText = (d: unknown): string =>
  arr(d)
    .map((x) => ` @${s(x.Name)}${argsText(x.Arguments)}`)
    .join('');
const descText = (d: unknown): string => (s(d) ? JSON.stringify(s(d)) + ' ' : '');

function varDefsText(v: unknown): string {
  const list = arr(v);
  if (!list.length) return '';
  const one = (x: O): string =>
    `$${s(x.Variable)}: ${typeText(x.Type)}${x.DefaultValue ? ' = ' + valueText(x.DefaultValue) : ''}${dirsText(x.Directives)}`;
  return '(' + list.map(one).join(', ') + ')';
}

function selText(sel: unknown): string {
  const list = arr(sel);
  if (!list.length) return '';
  const one = (x: O): string => {
    if ('Alias' in x)
      return `${s(x.Alias)}: ${s(x.Name)}${argsText(x.Arguments)}${dirsText(x.Directives)} ${selText(x.SelectionSet)}`;
    if ('Name' in x && !('SelectionSet' in x)) return `...${s(x.Name)}${dirsText(x.Directives)}`;
    return `...${x.TypeCondition ? ' on ' + s(x.TypeCondition) : ''}${dirsText(x.Directives)} ${selText(x.SelectionSet)}`;
  };
  return '{ ' + list.map(one).join(' ') + ' }';
}

function queryText(q: O): string {
  const ops = arr(q.Operations).map(
    (o) =>
      `${s(o.Operation) || 'query'} ${s(o.Name)}${varDefsText(o.VariableDefinitions)}${dirsText(o.Directives)} ${selText(o.SelectionSet)}`,
  );
  const frags = arr(q.Fragments).map(
    (f) =>
      `fragment ${s(f.Name)}${varDefsText(f.VariableDefinition)} on ${s(f.TypeCondition)}${dirsText(f.Directives)} ${selText(f.SelectionSet)}`,
  );
  return [...ops, ...frags].join('\n');
}

const KEYWORDS: Record<string, string> = {
  SCALAR: 'scalar',
  OBJECT: 'type',
  INTERFACE: 'interface',
  UNION: 'union',
  ENUM: 'enum',
  INPUT_OBJECT: 'input',
};

function inputValuesText(a: unknown): string {
  return arr(a)
    .map(
      (x) =>
        `${descText(x.Description)}${s(x.Name)}: ${typeText(x.Type)}${x.DefaultValue ? ' = ' + valueText(x.DefaultValue) : ''}${dirsText(x.Directives)}`,
    )
    .join(', ');
}

function typeDefText(d: O, extend: boolean): string {
  const kind = s(d.Kind);
  let out = `${extend ? 'extend ' : descText(d.Description)}${KEYWORDS[kind] ?? 'type'} ${s(d.Name)}`;
  const ifaces = arr(d.Interfaces) as unknown as string[];
  if (ifaces.length) out += ' implements ' + ifaces.join(' & ');
  out += dirsText(d.Directives);
  if (kind === 'UNION' && arr(d.Types).length) out += ' = ' + (d.Types as string[]).join(' | ');
  if (kind === 'ENUM' && arr(d.EnumValues).length)
    out +=
      ' { ' +
      arr(d.EnumValues)
        .map((v) => `${descText(v.Description)}${s(v.Name)}${dirsText(v.Directives)}`)
        .join(' ') +
      ' }';
  const fields = arr(d.Fields);
  if (fields.length) {
    const one = (f: O): string =>
      kind === 'INPUT_OBJECT'
        ? inputValuesText([f])
        : `${descText(f.Description)}${s(f.Name)}${arr(f.Arguments).length ? '(' + inputValuesText(f.Arguments) + ')' : ''}: ${typeText(f.Type)}${dirsText(f.Directives)}`;
    out += ' { ' + fields.map(one).join(' ') + ' }';
  }
  return out;
}

function schemaText(d: O): string {
  const parts: string[] = [];
  const schemaDef = (x: O, extend: boolean): string =>
    `${extend ? 'extend ' : descText(x.Description)}schema${dirsText(x.Directives)}${
      arr(x.OperationTypes).length
        ? ' { ' +
          arr(x.OperationTypes)
            .map((o) => `${s(o.Operation)}: ${s(o.Type)}`)
            .join(' ') +
          ' }'
        : ''
    }`;
  for (const x of arr(d.Schema)) parts.push(schemaDef(x, false));
  for (const x of arr(d.SchemaExtension)) parts.push(schemaDef(x, true));
  for (const x of arr(d.Directives))
    parts.push(
      `${descText(x.Description)}directive @${s(x.Name)}${arr(x.Arguments).length ? '(' + inputValuesText(x.Arguments) + ')' : ''}${
        x.IsRepeatable === true ? ' repeatable' : ''
      } on ${(arr(x.Locations) as unknown as string[]).join(' | ')}`,
    );
  for (const x of arr(d.Definitions)) parts.push(typeDefText(x, false));
  for (const x of arr(d.Extensions)) parts.push(typeDefText(x, true));
  return parts.join('\n');
}

function asPlain(v: Value): O {
  return JSON.parse(toJSONText(v)) as O;
}

function schemaSource(v: Value): string {
  if (typeof v === 'string') return v;
  if (v instanceof ObjectValue) return schemaText(asPlain(v));
  throw new BuiltinError('schema must be a string or a schema AST object');
}

function querySource(v: Value): string {
  if (typeof v === 'string') return v;
  if (v instanceof ObjectValue) return queryText(asPlain(v));
  throw new BuiltinError('query must be a string or a query AST object');
}

/** Parse and validate a query against a schema: [queryAST, schemaAST]. */
function parseAndValidate(query: string, schemaText: string): [Value, Value] {
  const sdoc = parseDoc(schemaText);
  const schema = buildSchema(schemaText, sdoc);
  const qdoc = parseDoc(query);
  checkQuery(schema, qdoc, query);
  return [toValue(queryJ(qdoc)), toValue(schemaJ(sdoc))];
}

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof BuiltinError) return false;
    throw e;
  }
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'graphql.parse_query',
    args: ['string'],
    result: 'object',
    impl: (a) => toValue(queryJ(parseDoc(a[0] as string))),
  });
  r.register({
    name: 'graphql.parse_schema',
    args: ['string'],
    result: 'object',
    impl: (a) => toValue(schemaJ(parseDoc(a[0] as string))),
  });
  r.register({
    name: 'graphql.parse',
    args: [
      ['string', 'object'],
      ['string', 'object'],
    ],
    result: 'array',
    impl: (a) => parseAndValidate(querySource(a[0]!), schemaSource(a[1]!)),
  });
  r.register({
    name: 'graphql.parse_and_verify',
    args: [
      ['string', 'object'],
      ['string', 'object'],
    ],
    result: 'array',
    impl: (a) => {
      try {
        const [q, s] = parseAndValidate(querySource(a[0]!), schemaSource(a[1]!));
        return [true, q, s];
      } catch (e) {
        if (e instanceof BuiltinError) return [false, new ObjectValue(), new ObjectValue()];
        throw e;
      }
    },
  });
  r.register({
    name: 'graphql.is_valid',
    args: [
      ['string', 'object'],
      ['string', 'object'],
    ],
    result: 'boolean',
    impl: (a) => succeeds(() => parseAndValidate(querySource(a[0]!), schemaSource(a[1]!))),
  });
  r.register({
    name: 'graphql.schema_is_valid',
    args: [['string', 'object']],
    result: 'boolean',
    impl: (a) =>
      succeeds(() => {
        const text = schemaSource(a[0]!);
        buildSchema(text, parseDoc(text));
      }),
  });
}
