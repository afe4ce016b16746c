import { useMemo } from 'react';
import hljs from 'highlight.js/lib/core';
import typescript from 'highlight.js/lib/languages/typescript';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import go from 'highlight.js/lib/languages/go';
import rust from 'highlight.js/lib/languages/rust';
import ruby from 'highlight.js/lib/languages/ruby';
import java from 'highlight.js/lib/languages/java';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import bash from 'highlight.js/lib/languages/bash';
import yaml from 'highlight.js/lib/languages/yaml';
import markdown from 'highlight.js/lib/languages/markdown';
import css from 'highlight.js/lib/languages/css';
import xml from 'highlight.js/lib/languages/xml';
import sql from 'highlight.js/lib/languages/sql';
import ini from 'highlight.js/lib/languages/ini';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import plaintext from 'highlight.js/lib/languages/plaintext';
import { parseDiff, type DiffLine } from '../lib/diff.js';

const registered = {
  typescript,
  javascript,
  json,
  python,
  go,
  rust,
  ruby,
  java,
  c,
  cpp,
  csharp,
  bash,
  yaml,
  markdown,
  css,
  xml,
  sql,
  ini,
  dockerfile,
  plaintext,
};
for (const [name, lang] of Object.entries(registered))
  if (!hljs.getLanguage(name)) hljs.registerLanguage(name, lang);

/** highlight.js escapes the text it is given: its output is safe to insert even for hostile file contents. */
function highlighted(line: DiffLine, language: string | undefined): string {
  const body =
    line.kind === 'add' || line.kind === 'del' || line.kind === 'ctx' ? line.text.slice(1) : line.text;
  const lang = line.kind === 'meta' || line.kind === 'hunk' || !language ? 'plaintext' : language;
  return hljs.highlight(body, { language: lang, ignoreIllegals: true }).value;
}

const MARK: Record<DiffLine['kind'], string> = { add: '+', del: '-', ctx: ' ', hunk: '', meta: '' };
const LABEL: Record<DiffLine['kind'], string | undefined> = {
  add: 'added',
  del: 'removed',
  ctx: undefined,
  hunk: undefined,
  meta: undefined,
};

/** The staged commits' diff, file by file, each line highlighted in its file's language. */
export function DiffView({ diff, truncated }: { diff: string; truncated: boolean }) {
  const files = useMemo(() => parseDiff(diff), [diff]);
  if (!diff.trim()) return <p className="muted">The diff is empty.</p>;
  return (
    <div className="diff" aria-label="Diff of the staged commits">
      {files.map((f, i) => (
        <details key={`${f.path}-${i}`} open className="diff-file">
          <summary>
            <code>{f.path || 'summary'}</code>{' '}
            <span className="muted">
              +{f.lines.filter((l) => l.kind === 'add').length} −
              {f.lines.filter((l) => l.kind === 'del').length}
            </span>
          </summary>
          <pre className="diff-body hljs">
            {f.lines.map((l, j) => (
              <div key={j} className={`diff-line diff-${l.kind}`}>
                <span className="diff-mark" aria-label={LABEL[l.kind]}>
                  {MARK[l.kind]}
                </span>
                <code dangerouslySetInnerHTML={{ __html: highlighted(l, f.language) }} />
              </div>
            ))}
          </pre>
        </details>
      ))}
      {truncated ? (
        <p role="note" className="banner banner-warn">
          The diff is truncated: review the rest with <code>aibox push show</code> before approving.
        </p>
      ) : null}
    </div>
  );
}
