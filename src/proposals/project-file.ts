import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { isNode, isSeq, parseDocument } from 'yaml';
import {
  domainMatches,
  PROJECT_POLICY_DIR,
  PROJECT_POLICY_FILE,
  PROJECT_POLICY_MAX_BYTES,
  ProjectLayer,
} from '../policy/index.js';
import { isAiboxError, messageOf } from '../shared/index.js';
import { proposalErrors } from './errors.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** The destination a change must let through. */
export interface Destination {
  host: string;
  port: number;
  methods?: readonly string[] | undefined;
  paths?: readonly string[] | undefined;
}

/** What changing the file must do: nothing when it already allows the destination. */
export interface FileChange {
  text: string;
  changes: string[];
}

/**
 * Adds a destination to aibox/policy.yaml's text, keeping its comments and layout (yaml Document API), and checks
 * the result still loads as a project layer. A project file narrows: `network.allow` absent means "whatever the
 * org/team allow", so a host is only added to a list that exists (creating one would cut egress down to that host);
 * the same for `network.ports`.
 */
export function addDestination(text: string, dest: Destination): FileChange {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw invalid(doc.errors[0]!.message.split('\n')[0]!);
  const changes: string[] = [];
  const allow = doc.getIn(['network', 'allow']);
  if (isSeq(allow)) {
    const hosts = allow.items.map((item) => hostOf(item));
    if (!hosts.some((h) => h !== undefined && domainMatches(h, dest.host))) {
      // A port other than the default goes with the host (`host:8443`): the project's own shorthand.
      allow.add(doc.createNode(dest.host));
      changes.push(`network.allow += ${dest.host}`);
    }
  }
  const ports = doc.getIn(['network', 'ports']);
  if (isSeq(ports)) {
    const listed = ports.items.map((p) => Number(isNode(p) ? p.toJSON() : p));
    if (!listed.includes(dest.port)) {
      ports.add(doc.createNode(dest.port));
      changes.push(`network.ports += ${dest.port}`);
    }
  }
  // Method/path rules narrow a host only where the project lists rules for it (`network.http`): a proposal for
  // methods or paths adds its own rule beside them; a host without rules already allows every method and path.
  const http = doc.getIn(['network', 'http']);
  if (isSeq(http) && (dest.methods?.length || dest.paths?.length)) {
    const rules = http.items.map((item) => (isNode(item) ? item.toJSON() : item) as { host?: unknown });
    if (rules.some((r) => typeof r?.host === 'string' && domainMatches(r.host, dest.host))) {
      const rule = {
        host: dest.host,
        ...(dest.methods?.length ? { methods: [...dest.methods] } : {}),
        ...(dest.paths?.length ? { paths: [...dest.paths] } : {}),
      };
      http.add(doc.createNode(rule, { flow: true }));
      changes.push(`network.http += ${JSON.stringify(rule)}`);
    }
  }
  const out = changes.length > 0 ? doc.toString({ flowCollectionPadding: false, lineWidth: 0 }) : text;
  try {
    ProjectLayer.parse(out);
  } catch (err) {
    throw invalid(messageOf(err));
  }
  return { text: out, changes };
}

function hostOf(item: unknown): string | undefined {
  const v: unknown = isNode(item) ? item.toJSON() : item;
  if (typeof v === 'string') return /^(.*?)(?::[0-9,]+)?$/.exec(v)?.[1] ?? v;
  if (v && typeof v === 'object' && typeof (v as { host?: unknown }).host === 'string')
    return (v as { host: string }).host;
  return undefined;
}

function invalid(reason: string) {
  return proposalErrors.create('PROPOSAL_PROJECT_INVALID', `${PROJECT_POLICY_FILE}: ${reason}`, {
    file: PROJECT_POLICY_FILE,
  });
}

function unsafe(reason: string) {
  return proposalErrors.create(
    'PROPOSAL_PROJECT_UNSAFE',
    `${reason}: ${PROJECT_POLICY_FILE} was not changed`,
    {
      file: PROJECT_POLICY_FILE,
    },
  );
}

/**
 * Edits a project's aibox/policy.yaml on the host, as root, in a folder the agent may have written: the project
 * folder, aibox/ and the file are opened without following links (each relative to its parent's descriptor), aibox/
 * and the file must be owned by the project folder's owner, and the file must be a regular file of at most
 * PROJECT_POLICY_MAX_BYTES. The new content goes to a temporary file in the same folder (O_EXCL, the original's owner
 * and mode, fsynced), renamed over the original only if the name still points at the file read; then the folder is
 * fsynced. `edit` returns undefined to leave the file alone.
 */
export async function editProjectPolicy(
  projectPath: string,
  edit: (text: string) => FileChange | undefined,
): Promise<FileChange | undefined> {
  const handles: FileHandle[] = [];
  const openNoFollow = async (path: string, flags: number, what: string): Promise<FileHandle> => {
    try {
      const h = await open(path, flags | O_NOFOLLOW | O_NONBLOCK);
      handles.push(h);
      return h;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw proposalErrors.create(
          'PROPOSAL_NO_PROJECT',
          `the project has no ${what}: nothing to add the change to`,
        );
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EMLINK')
        throw unsafe(`${what} is a symbolic link or not a folder`);
      throw unsafe(`cannot open ${what}: ${code ?? 'error'}`);
    }
  };
  try {
    const projectDir = await openNoFollow(projectPath, O_RDONLY | O_DIRECTORY, 'project folder');
    const projectStat = await projectDir.stat();
    const owner = { uid: projectStat.uid, gid: projectStat.gid };
    const dirPath = `/proc/self/fd/${projectDir.fd}/${PROJECT_POLICY_DIR}`;
    const dir = await openNoFollow(dirPath, O_RDONLY | O_DIRECTORY, `${PROJECT_POLICY_DIR}/ folder`);
    checkOwner(await dir.stat(), owner.uid, `${PROJECT_POLICY_DIR}/`);
    const at = (name: string) => `/proc/self/fd/${dir.fd}/${name}`;
    const file = await openNoFollow(at('policy.yaml'), O_RDONLY, PROJECT_POLICY_FILE);
    const st = await file.stat();
    if (!st.isFile()) throw unsafe(`${PROJECT_POLICY_FILE} is not a regular file`);
    checkOwner(st, owner.uid, PROJECT_POLICY_FILE);
    if (st.size > PROJECT_POLICY_MAX_BYTES)
      throw unsafe(`${PROJECT_POLICY_FILE} is larger than ${PROJECT_POLICY_MAX_BYTES / 1024} KiB`);
    const text = (await file.readFile()).toString('utf8');
    let change: FileChange | undefined;
    try {
      change = edit(text);
    } catch (err) {
      if (isAiboxError(err)) throw err;
      throw invalid(messageOf(err));
    }
    if (!change || change.text === text) return change;
    const tmp = `.policy.yaml.${randomBytes(6).toString('hex')}.tmp`;
    const out = await open(at(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      try {
        await out.chown(st.uid, st.gid);
        await out.chmod(st.mode & 0o777);
        await out.writeFile(change.text);
        await out.sync();
      } finally {
        await out.close();
      }
      // The name must still be the file read and checked (nothing swapped it meanwhile).
      const now = await lstat(at('policy.yaml')).catch(() => undefined);
      if (!now || now.ino !== st.ino || now.dev !== st.dev)
        throw unsafe(`${PROJECT_POLICY_FILE} changed while it was being edited`);
      await rename(at(tmp), at('policy.yaml'));
    } catch (err) {
      await rm(at(tmp), { force: true });
      throw err;
    }
    await dir.sync();
    return change;
  } finally {
    for (const h of handles.reverse()) await h.close().catch(() => undefined);
  }
}

function checkOwner(st: Stats, owner: number, what: string): void {
  if (st.uid !== owner)
    throw unsafe(`${what} is owned by uid ${st.uid}, not by the project folder's owner (uid ${owner})`);
}
