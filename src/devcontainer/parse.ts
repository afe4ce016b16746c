import { createScanner, parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { devcontainerErrors } from './errors.js';

/** The keys of the Dev Container specification (containers.dev/implementors/json_reference); others are unknown. */
export const KNOWN_KEYS = new Set([
  'name',
  'image',
  'build',
  'dockerFile',
  'dockerfile',
  'context',
  'dockerComposeFile',
  'service',
  'runServices',
  'features',
  'overrideFeatureInstallOrder',
  'forwardPorts',
  'portsAttributes',
  'otherPortsAttributes',
  'appPort',
  'containerEnv',
  'remoteEnv',
  'containerUser',
  'remoteUser',
  'updateRemoteUserUID',
  'userEnvProbe',
  'mounts',
  'workspaceMount',
  'workspaceFolder',
  'runArgs',
  'shutdownAction',
  'overrideCommand',
  'init',
  'privileged',
  'capAdd',
  'securityOpt',
  'initializeCommand',
  'onCreateCommand',
  'updateContentCommand',
  'postCreateCommand',
  'postStartCommand',
  'postAttachCommand',
  'waitFor',
  'customizations',
  'hostRequirements',
  'secrets',
  'extensions',
  'settings',
]);

export interface ParsedDevcontainer {
  readonly config: Record<string, unknown>;
  /** Comments, trailing commas and unknown keys: accepted, each with a warning. */
  readonly warnings: string[];
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * Parses devcontainer.json as JSON with comments (what VS Code and the devcontainer CLI accept). A syntax error is
 * DEVCONTAINER_INVALID naming the file, line and column; a top level that is not an object too.
 */
export function parseDevcontainer(file: string, text: string): ParsedDevcontainer {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const first = errors[0]!;
    const at = lineColumn(text, first.offset);
    throw devcontainerErrors.create(
      'DEVCONTAINER_INVALID',
      `${file}:${at.line}:${at.column}: ${describe(printParseErrorCode(first.error))}`,
      { file, line: at.line, column: at.column },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw devcontainerErrors.create('DEVCONTAINER_INVALID', `${file}:1:1: the top level must be an object`, {
      file,
      line: 1,
      column: 1,
    });
  }
  const warnings = lexicalWarnings(file, text);
  for (const key of Object.keys(value)) {
    if (!KNOWN_KEYS.has(key)) warnings.push(`${file}: unknown key "${key}" ignored`);
  }
  return { config: value as Record<string, unknown>, warnings };
}

/** Comments and trailing commas are not JSON: said once each, with where the first one is. */
function lexicalWarnings(file: string, text: string): string[] {
  const scanner = createScanner(text, false);
  let comment: number | undefined;
  let trailing: number | undefined;
  let lastComma: number | undefined;
  for (let kind = Number(scanner.scan()); kind !== K.EOF; kind = Number(scanner.scan())) {
    if (kind === K.LineComment || kind === K.BlockComment) {
      comment ??= scanner.getTokenOffset();
      continue;
    }
    if (kind === K.Trivia || kind === K.LineBreak) continue;
    if ((kind === K.CloseBrace || kind === K.CloseBracket) && lastComma !== undefined) trailing ??= lastComma;
    lastComma = kind === K.Comma ? scanner.getTokenOffset() : undefined;
  }
  const out: string[] = [];
  const where = (o: number) => {
    const at = lineColumn(text, o);
    return `${file}:${at.line}:${at.column}`;
  };
  if (comment !== undefined) out.push(`${where(comment)}: comments are not JSON (accepted)`);
  if (trailing !== undefined) out.push(`${where(trailing)}: trailing comma (accepted)`);
  return out;
}

/** jsonc-parser's SyntaxKind values (a const enum, which this build cannot import as a value). */
const K = {
  CloseBrace: 2,
  CloseBracket: 4,
  Comma: 5,
  LineComment: 12,
  BlockComment: 13,
  LineBreak: 14,
  Trivia: 15,
  EOF: 17,
} as const;

function describe(code: string): string {
  // printParseErrorCode gives "PropertyNameExpected" and the like: words read better.
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
