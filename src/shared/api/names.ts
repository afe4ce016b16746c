// The patterns of names and ids the API takes, without zod: the CLI checks arguments with them before asking the
// daemon, on paths that must load fast. The zod schemas of each resource build on these same patterns.

/** Portable environment variable names: no "=", newline or NUL can smuggle a second variable in. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

export const PUSH_ID_PATTERN = /^push_[0-9a-f]{6,32}$/;

export const TASK_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The first byte of every binary frame of the exec WebSocket: which stream the rest belongs to. */
export const EXEC_STREAM = { stdin: 0, stdout: 1, stderr: 2 } as const;
