/**
 * `GET /info` of the engine, answered by the front (docs/container-engine.md, "info"). Podman 4.3 cannot answer it
 * inside gVisor: it computes a CPU utilisation from /proc/stat, whose counters gVisor leaves at 0, gets 0/0 = NaN and
 * fails to encode it. The front composes both documents (Docker's and libpod's) from facts it knows for sure: the
 * engine's own `/version` and image list, the profile's limits, the store aiboxd gave it. Pure.
 */

/** What the front knows about one engine, whatever the engine answers. */
export interface EngineInfoFacts {
  /** The engine's id (Docker's `ID`). */
  id: string;
  /** The engine sandbox's host name (`<sandbox>-engine`). */
  hostname: string;
  /** The profile's limits: what the engine may use, not what the host has. */
  cpus: number;
  memoryMiB: number;
  /** The Debian suite of the base image the engine image is made from (runtime.image.suite). */
  suite: string;
  /** The store's hard cap and use in bytes, when aiboxd gave it a capped store. */
  storage?: { sizeBytes: number; usedBytes: number };
}

/** What the front read from the engine itself for one answer. */
export interface EngineLiveFacts {
  /** The engine's compatible `/version` document (Podman's). */
  version: Record<string, unknown>;
  /** How many images the engine's store holds (`/images/json`). */
  images: number;
}

export const ENGINE_STORAGE_DRIVER = 'vfs';
export const ENGINE_GRAPH_ROOT = '/var/lib/containers/storage';
const ENGINE_RUN_ROOT = '/run/containers/storage';
const DEBIAN_VERSIONS: Record<string, string> = { bullseye: '11', bookworm: '12', trixie: '13' };
const RUN_WARNING =
  'aibox: this engine builds images only; containers cannot be run inside gVisor on this host (ENGINE_RUN_UNSUPPORTED)';

/** The Docker-compatible `/info` document (what `docker info`, testcontainers and other Docker clients read). */
export function dockerInfo(
  facts: EngineInfoFacts,
  live: EngineLiveFacts,
  now: Date = new Date(),
): Record<string, unknown> {
  const v = versionOf(live.version);
  const osVersion = DEBIAN_VERSIONS[facts.suite] ?? '';
  return {
    ID: facts.id,
    Name: facts.hostname,
    ServerVersion: v.version,
    Containers: 0,
    ContainersRunning: 0,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: live.images,
    Driver: ENGINE_STORAGE_DRIVER,
    DriverStatus: facts.storage
      ? [
          ['Size (bytes)', String(facts.storage.sizeBytes)],
          ['Used (bytes)', String(facts.storage.usedBytes)],
        ]
      : [],
    DockerRootDir: ENGINE_GRAPH_ROOT,
    Plugins: { Volume: [], Network: [], Authorization: null, Log: [] },
    NCPU: ncpu(facts.cpus),
    MemTotal: facts.memoryMiB * 1024 * 1024,
    OperatingSystem: `Debian GNU/Linux ${osVersion ? `${osVersion} ` : ''}(${facts.suite})`,
    OSType: v.os,
    OSVersion: osVersion,
    Architecture: dockerArch(v.arch),
    KernelVersion: v.kernel,
    CgroupDriver: 'cgroupfs',
    CgroupVersion: '1',
    Isolation: 'chroot',
    // No runtime: nothing can be run (ENGINE_RUN_UNSUPPORTED).
    Runtimes: {},
    DefaultRuntime: '',
    Swarm: { LocalNodeState: 'inactive', ControlAvailable: false },
    IndexServerAddress: '',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
    Labels: ['io.aibox.engine=true'],
    SecurityOptions: [],
    ExperimentalBuild: false,
    LiveRestoreEnabled: false,
    Debug: false,
    SystemTime: now.toISOString(),
    Warnings: [RUN_WARNING],
  };
}

/** libpod's `/info` document (what `podman info` decodes; its `host` must be there). */
export function libpodInfo(facts: EngineInfoFacts, live: EngineLiveFacts): Record<string, unknown> {
  const v = versionOf(live.version);
  return {
    host: {
      arch: v.arch,
      cgroupManager: 'cgroupfs',
      cgroupVersion: 'v1',
      cpus: ncpu(facts.cpus),
      distribution: {
        distribution: 'debian',
        version: DEBIAN_VERSIONS[facts.suite] ?? 'unknown',
        codename: facts.suite,
      },
      eventLogger: 'file',
      hostname: facts.hostname,
      kernel: v.kernel,
      memTotal: facts.memoryMiB * 1024 * 1024,
      os: v.os,
      // Rootful inside gVisor (gVisor's root, not the host's).
      rootless: false,
      serviceIsRemote: true,
      security: { rootless: false },
    },
    store: {
      configFile: '/etc/containers/storage.conf',
      containerStore: { number: 0, paused: 0, running: 0, stopped: 0 },
      graphDriverName: ENGINE_STORAGE_DRIVER,
      graphRoot: ENGINE_GRAPH_ROOT,
      ...(facts.storage
        ? { graphRootAllocated: facts.storage.sizeBytes, graphRootUsed: facts.storage.usedBytes }
        : {}),
      imageStore: { number: live.images },
      runRoot: ENGINE_RUN_ROOT,
    },
    registries: { search: [] },
    plugins: { volume: [], network: [], log: [] },
    version: {
      APIVersion: v.apiVersion,
      Version: v.version,
      GoVersion: v.goVersion,
      GitCommit: v.gitCommit,
      BuiltTime: v.buildTime,
      Built: v.built,
      OsArch: `${v.os}/${v.arch}`,
      Os: v.os,
    },
  };
}

/** The fields of Podman's compatible `/version` (its "Podman Engine" component first, then the top level). */
function versionOf(doc: Record<string, unknown>) {
  const components = Array.isArray(doc.Components) ? (doc.Components as unknown[]) : [];
  const engine = components.find((c) => isObject(c) && c.Name === 'Podman Engine');
  const details = isObject(engine) && isObject(engine.Details) ? engine.Details : {};
  const pick = (...values: unknown[]) =>
    values.find((x) => typeof x === 'string' && x !== '') as string | undefined;
  const buildTime = pick(details.BuildTime, doc.BuildTime) ?? '';
  const built = Date.parse(buildTime);
  return {
    version: pick(isObject(engine) ? engine.Version : undefined, doc.Version) ?? '',
    apiVersion: pick(details.APIVersion, isObject(engine) ? engine.Version : undefined, doc.Version) ?? '',
    goVersion: pick(details.GoVersion, doc.GoVersion) ?? '',
    gitCommit: pick(details.GitCommit, doc.GitCommit) ?? '',
    os: pick(details.Os, doc.Os) ?? 'linux',
    arch: pick(details.Arch, doc.Arch) ?? '',
    kernel: pick(details.KernelVersion, doc.KernelVersion) ?? '',
    buildTime,
    built: Number.isNaN(built) ? 0 : Math.floor(built / 1000),
  };
}

function ncpu(cpus: number): number {
  return Math.max(1, Math.ceil(cpus));
}

/** Docker reports the machine name (`x86_64`), Podman the Go name (`amd64`). */
function dockerArch(goArch: string): string {
  return ({ amd64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[goArch] ?? goArch;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
