import { defineErrors } from '../shared/errors.js';

export const sessionErrors = defineErrors({
  SESSION_NOT_FOUND: {
    status: 404,
    hint: 'The session does not exist, expired (idle or absolute TTL) or belongs to another token; create a new one.',
  },
  SESSION_PATH_INVALID: {
    status: 400,
    hint: 'Give a path relative to /workspace (or absolute under /workspace) without ".." segments, NUL or control characters.',
  },
  SESSION_PATH_ESCAPE: {
    status: 400,
    hint: 'The path goes through or names a symbolic link; links in the workspace are never followed by file routes.',
  },
  SESSION_PATH_NOT_FOUND: {
    status: 404,
    hint: 'List the folder (GET …/files/list?path=DIR) to see what exists.',
  },
  SESSION_PATH_NOT_FILE: {
    status: 400,
    hint: 'The path is a folder or a special file: download folders as a tar (…/files/tar), delete them with recursive=true.',
  },
  SESSION_PATH_NOT_DIR: { status: 400, hint: 'The path is not a folder: list or tar a folder.' },
  SESSION_DIR_NOT_EMPTY: {
    status: 409,
    hint: 'Delete a folder with what is in it by adding recursive=true.',
  },
  SESSION_FILE_TOO_LARGE: {
    status: 413,
    hint: 'Upload smaller files (sessions.maxFileBytes), or split the upload; folders go as a tar stream.',
  },
  SESSION_WORKSPACE_FULL: {
    status: 413,
    hint: 'The session workspace is at its size cap (sessions.workspaceBytes): delete files or use a new session.',
  },
  SESSION_TAR_INVALID: {
    status: 400,
    hint: 'Send an uncompressed POSIX/ustar/pax tar stream (tar -cf - DIR).',
  },
  SESSION_TAR_ENTRY_REFUSED: {
    status: 400,
    hint: 'Tars may hold only regular files and folders with relative names inside the target; links, devices and ".." are refused.',
  },
  SESSION_QUOTA: {
    status: 429,
    hint: 'Too many sessions are open (per token or in total): remove sessions you no longer use, or retry after Retry-After seconds.',
  },
  SESSION_RATE_LIMITED: { status: 429, hint: 'Slow down: retry after the Retry-After header’s seconds.' },
});
