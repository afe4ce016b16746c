/**
 * The devcontainer.json variables (`${localWorkspaceFolder}`, `${containerWorkspaceFolder}`, `${localEnv:X}`, …).
 * Pure. The file is workspace content, so it must not read the host: `${localEnv:X}` never reads aiboxd's (or the
 * user's) environment — that would let an agent copy a host secret into the sandbox — it becomes its default
 * (`${localEnv:X:default}`) or the empty string, with a warning.
 */
export interface VariableContext {
  /** The project folder on the host (only shown; never opened because of the file). */
  readonly localWorkspaceFolder: string;
  /** Where the project is inside the sandbox. */
  readonly containerWorkspaceFolder: string;
  readonly devcontainerId: string;
}

export interface Substituted {
  readonly value: string;
  readonly warnings: string[];
  /** The value still refers to the sandbox's own environment (`${containerEnv:X}`), known only at run time. */
  readonly runtimeRef: boolean;
}

const VAR = /\$\{([A-Za-z]+)(?::([^}:]*))?(?::([^}]*))?\}/g;

export function substitute(value: string, ctx: VariableContext): Substituted {
  const warnings: string[] = [];
  let runtimeRef = false;
  const out = value.replace(VAR, (whole, name: string, arg: string | undefined, def: string | undefined) => {
    switch (name) {
      case 'localWorkspaceFolder':
        return ctx.localWorkspaceFolder;
      case 'localWorkspaceFolderBasename':
        return basename(ctx.localWorkspaceFolder);
      case 'containerWorkspaceFolder':
        return ctx.containerWorkspaceFolder;
      case 'containerWorkspaceFolderBasename':
        return basename(ctx.containerWorkspaceFolder);
      case 'devcontainerId':
        return ctx.devcontainerId;
      case 'localEnv':
      case 'env':
        warnings.push(
          `${whole}: the host's environment is not read for a workspace file; used ${def === undefined ? 'an empty value' : `its default "${def}"`}`,
        );
        return def ?? '';
      case 'containerEnv':
        runtimeRef = true;
        return whole;
      default:
        warnings.push(`${whole}: unknown variable, left as is`);
        return whole;
    }
  });
  return { value: out, warnings, runtimeRef };
}

function basename(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? '';
}
