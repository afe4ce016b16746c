import type { EngineErrorCode } from './errors.js';

/** What the front does with one request of the agent to the engine's API. */
export type EngineDecision =
  /** `answer`: the front answers itself (info.ts), the engine is only asked for facts. */
  | { allow: true; endpoint: string; path: string; answer?: 'docker-info' | 'libpod-info' }
  | { allow: false; endpoint: string; code: EngineErrorCode; reason: string }
  /** A container create: always refused, the body (read by the front) only picks the code. */
  | { allow: false; endpoint: string; inspectCreate: true };

export type Refusal = { code: EngineErrorCode; reason: string };

/** Build parameters that make the engine read a path or a device, or export outside its store (`outputs`, --output). */
const BUILD_MOUNT_PARAMS = ['volume', 'devices', 'outputs'];

const RUN_REASON =
  'containers cannot be run inside gVisor on this host: no nested OCI runtime starts there (runc and crun lack kernel interfaces gVisor does not provide, runsc cannot nest), so the engine builds images only';

/**
 * Decides one request by method and target (the raw request line's target). Pure. Paths are matched after the
 * optional API version and `/libpod` prefixes; anything not listed is refused. A build always runs with buildah's
 * chroot isolation (the only one that works inside gVisor): the front sets `isolation`, whatever the client asked.
 */
export function decideRequest(method: string, target: string): EngineDecision {
  const m = method.toUpperCase();
  // Clients escape the `/` of an image name (`localhost%2Fapp`); nothing else encoded, no dot segment, no `..`.
  if (!target.startsWith('/') || /\\|%(?!2[fF])|\/\/|\.\.|(^|\/)\.(\/|$)/.test(target.split('?')[0]!))
    return refuse(
      `${m} ${target.slice(0, 200)}`,
      'ENGINE_ENDPOINT_REFUSED',
      'a path the engine does not serve',
    );
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  const prefix = /^(\/v\d+(?:\.\d+){0,2})?(\/libpod)?/.exec(rawPath)![0];
  const rest = rawPath.slice(prefix.length) || '/';
  const endpoint = `${m} ${rest}`;
  const ok = () => ({ allow: true as const, endpoint, path: rawPath + serialize(query) });

  if ((m === 'GET' || m === 'HEAD') && rest === '/_ping') return ok();
  if (m === 'GET' && rest === '/version') return ok();
  // Podman 4.3 fails `info` inside gVisor (a NaN CPU utilisation): the front answers it from facts it knows.
  if (m === 'GET' && rest === '/info')
    return { ...ok(), answer: prefix.endsWith('/libpod') ? 'libpod-info' : 'docker-info' };
  if (m === 'GET' && rest === '/images/json') return ok();
  if (m === 'GET' && /^\/images\/.+\/(json|exists|history)$/.test(rest)) return ok();
  // `podman run` asks for a pull first (policy missing): resolved in the engine's own store, never fetched (no network).
  if (m === 'POST' && rest === '/images/pull' && ['missing', 'never'].includes(query.get('policy') ?? ''))
    return ok();
  if (
    (m === 'POST' && /^\/images\/.+\/(tag|untag)$/.test(rest)) ||
    (m === 'DELETE' && /^\/images\/.+$/.test(rest))
  )
    return ok();
  if (m === 'POST' && rest === '/build') {
    for (const p of BUILD_MOUNT_PARAMS)
      if (nonEmpty(query, p)) return refuse(endpoint, 'ENGINE_MOUNT_REFUSED', `a build with \`${p}\``);
    for (const p of ['networkmode', 'network'])
      if ((query.get(p) ?? '').toLowerCase() === 'host')
        return refuse(endpoint, 'ENGINE_HOST_NETWORK_REFUSED', 'a build on the host network');
    query.set('isolation', 'chroot');
    // RUN steps get the engine's proxy environment (the agent's Squid), whatever the client asked: a Docker client
    // does not ask, and without it a fetch would only meet the engine's default-deny rules.
    query.set('httpproxy', 'true');
    return ok();
  }
  if (/^\/containers(\/|$)/.test(rest)) {
    if (m === 'POST' && rest === '/containers/create') return { allow: false, endpoint, inspectCreate: true };
    return refuse(endpoint, 'ENGINE_RUN_UNSUPPORTED', RUN_REASON);
  }
  if (/^\/exec(\/|$)/.test(rest) || /^\/pods(\/|$)/.test(rest) || rest === '/play/kube')
    return refuse(endpoint, 'ENGINE_RUN_UNSUPPORTED', RUN_REASON);
  return refuse(endpoint, 'ENGINE_ENDPOINT_REFUSED', `${endpoint} is not an endpoint the engine opens`);
}

/**
 * The refusal of a container create, by what its body asks (Docker-compatible `HostConfig` or libpod's
 * SpecGenerator): a path mount, privileged and host networking each get their own code; otherwise the run itself
 * is what cannot be done. An unreadable body is still a run.
 */
export function decideCreate(body: unknown): Refusal {
  const b: Record<string, unknown> = isObject(body) ? body : {};
  const host: Record<string, unknown> = isObject(b.HostConfig) ? b.HostConfig : {};
  const binds = list(host.Binds);
  const mounts = [...list(host.Mounts), ...list(b.mounts)];
  const pathMount =
    binds.some((x) => typeof x === 'string' && x.split(':')[0]!.includes('/')) ||
    mounts.some((x) => isObject(x) && /^bind$/i.test(text(x.Type ?? x.type))) ||
    (Array.isArray(host.Devices) && host.Devices.length > 0) ||
    (Array.isArray(b.devices) && b.devices.length > 0);
  if (pathMount)
    return { code: 'ENGINE_MOUNT_REFUSED', reason: 'a container that mounts a host path or device' };
  if (host.Privileged === true || b.privileged === true)
    return { code: 'ENGINE_PRIVILEGED_REFUSED', reason: 'a privileged container' };
  const netns = isObject(b.netns) ? text(b.netns.nsmode) : '';
  if (text(host.NetworkMode).toLowerCase() === 'host' || netns === 'host')
    return { code: 'ENGINE_HOST_NETWORK_REFUSED', reason: 'a container on the host network' };
  return { code: 'ENGINE_RUN_UNSUPPORTED', reason: RUN_REASON };
}

function refuse(endpoint: string, code: EngineErrorCode, reason: string): EngineDecision {
  return { allow: false, endpoint, code, reason };
}

function nonEmpty(query: URLSearchParams, name: string): boolean {
  return query.getAll(name).some((v) => v !== '' && v !== '[]' && v !== 'null');
}

function serialize(query: URLSearchParams): string {
  const s = query.toString();
  return s ? `?${s}` : '';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
