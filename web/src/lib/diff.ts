/** One file of a unified diff (`git diff` output), for highlighting file by file. */
export interface DiffFile {
  path: string;
  language: string | undefined;
  lines: DiffLine[];
}

export interface DiffLine {
  kind: 'add' | 'del' | 'ctx' | 'hunk' | 'meta';
  text: string;
}

const LANGUAGES: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescript',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  json: 'json',
  py: 'python',
  go: 'go',
  rs: 'rust',
  rb: 'ruby',
  java: 'java',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cs: 'csharp',
  sh: 'bash',
  bash: 'bash',
  yml: 'yaml',
  yaml: 'yaml',
  md: 'markdown',
  css: 'css',
  html: 'xml',
  xml: 'xml',
  sql: 'sql',
  toml: 'ini',
  rego: 'plaintext',
  dockerfile: 'dockerfile',
};

export function languageOf(path: string): string | undefined {
  const base = path.split('/').pop() ?? path;
  if (base.toLowerCase() === 'dockerfile') return 'dockerfile';
  const ext = base.includes('.') ? base.split('.').pop()!.toLowerCase() : '';
  return LANGUAGES[ext];
}

/** Splits a unified diff into files; lines outside any file (a leading stat) go to a file named "". */
export function parseDiff(diff: string): DiffFile[] {
  const files: DiffFile[] = [];
  let current: DiffFile | undefined;
  for (const line of diff.split('\n')) {
    const header = /^diff --git a\/(.+) b\/(.+)$/.exec(line);
    if (header) {
      const path = header[2]!;
      current = { path, language: languageOf(path), lines: [{ kind: 'meta', text: line }] };
      files.push(current);
      continue;
    }
    if (!current) {
      if (line === '') continue;
      current = { path: '', language: undefined, lines: [] };
      files.push(current);
    }
    current.lines.push({ kind: kindOf(line), text: line });
  }
  for (const f of files) while (f.lines.length && f.lines[f.lines.length - 1]!.text === '') f.lines.pop();
  return files;
}

function kindOf(line: string): DiffLine['kind'] {
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+++') || line.startsWith('---')) return 'meta';
  if (/^(index |new file|deleted file|similarity|rename |old mode|new mode|Binary files)/.test(line))
    return 'meta';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  return 'ctx';
}
