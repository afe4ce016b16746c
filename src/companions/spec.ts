import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { companionErrors } from './errors.js';
import { nodeAt } from '../shared/yaml-path.js';
import type { Profile } from '../config/index.js';

/** Where the services are declared in a project (read by the daemon without following links). */
export const SERVICES_FILE = 'aibox/services.yaml';
export const SERVICES_MAX_BYTES = 64 * 1024;
export const MAX_SERVICES = 4;

/** A service name is what the agent types as a host name: one DNS label. */
const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/, 'a host name label: lower-case letters, digits and "-"')
  .refine((n) => !['localhost', 'host', 'gateway', 'proxy'].includes(n), 'a name aibox keeps for itself');

const ServiceSpec = z
  .object({
    name: ServiceName,
    pack: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{0,62}(@[A-Za-z0-9.+~-]{1,64})?$/, 'a pack NAME or NAME@VERSION'),
    /** argv; the pack's known default when left out (postgresql, redis). */
    command: z.array(z.string().min(1).max(4096)).min(1).max(64).optional(),
    /** Unprivileged ports only: the service runs as the sandbox user. */
    port: z.number().int().min(1024).max(65535),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), z.string().max(4096)).default({}),
    /** A data folder for the service, daemon-owned, size-capped, removed with the sandbox. */
    data: z
      .object({
        // Mounted over the companion's own file system: only a data place, never over its system folders (its
        // exec helper, seccomp filter or packs).
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]*$/)
          .refine(
            (p) => /^\/(data|srv|var\/lib|tmp)(\/|$)/.test(p) && !p.split('/').includes('..'),
            'a folder at or under /data, /srv, /var/lib or /tmp',
          )
          .default('/data'),
        sizeMiB: z.number().int().min(16).max(8192).default(512),
      })
      .strict()
      .optional(),
    /**
     * The service's own sandbox limits, each at most the agent sandbox profile's (checked at start, when the profile
     * is known); what is left out is the profile's.
     */
    limits: z
      .object({
        memoryMiB: z.number().int().min(64).optional(),
        cpus: z.number().positive().max(64).optional(),
        pids: z.number().int().min(128).optional(),
      })
      .strict()
      .optional(),
    /**
     * What the daemon does when the service's command exits while its sandbox runs: `on-failure` (a non-zero exit or
     * a signal) restarts it with backoff, `no` leaves it `failed`.
     */
    restart: z.enum(['on-failure', 'no']).default('on-failure'),
    /** Declared only to be refused with its own code: a companion service has no egress. */
    egress: z.array(z.string()).optional(),
  })
  .strict();
export type ServiceSpec = z.infer<typeof ServiceSpec>;

const ServicesFile = z.object({ services: z.array(ServiceSpec).max(MAX_SERVICES) }).strict();

/** Ports inside the agent's sandbox that aibox's own channels use: a service may not shadow them. */
export const RESERVED_PORTS = new Set([2222, 3128, 5353, 8080]);

export interface CompanionService extends Omit<ServiceSpec, 'command' | 'egress'> {
  readonly command: string[];
}

/** The limits a service may set, and the agent sandbox profile's ceiling for them. */
export type ServiceLimits = Pick<Profile['limits'], 'memoryMiB' | 'cpus' | 'pids'>;
const LIMIT_KEYS = ['memoryMiB', 'cpus', 'pids'] as const;

/**
 * aibox/services.yaml → the services, each with its command (the pack's default when the file gives none). Errors
 * name the file and line: COMPANION_SPEC_INVALID (also a limit above `ceiling`, the agent sandbox profile's limits),
 * COMPANION_EGRESS_REFUSED (any egress), COMPANION_PORT_TAKEN (two services on one port, or a port aibox keeps).
 */
export function parseServices(text: string, ceiling?: ServiceLimits): CompanionService[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : counter.linePos(offset).line);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw invalid(lineOf(e.pos[0]), e.message);
  }
  const raw: unknown = doc.toJS();
  const parsed = ServicesFile.safeParse(raw ?? { services: [] });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(
      lineOf(nodeAt(doc.contents, issue.path)?.range?.[0]),
      `${issue.path.join('.') || 'services'}: ${issue.message}`,
    );
  }
  const out: CompanionService[] = [];
  const names = new Set<string>();
  const ports = new Map<number, string>();
  for (const [i, s] of parsed.data.services.entries()) {
    const line = lineOf(nodeAt(doc.contents, ['services', i])?.range?.[0]);
    if (s.egress && s.egress.length > 0)
      throw companionErrors.create(
        'COMPANION_EGRESS_REFUSED',
        `${SERVICES_FILE}:${line}: service ${s.name} asks for egress (${s.egress.join(', ')}): companion services reach nothing`,
        { file: SERVICES_FILE, line, service: s.name },
      );
    if (names.has(s.name)) throw invalid(line, `services.${i}.name: ${s.name} is declared twice`);
    names.add(s.name);
    const other = ports.get(s.port);
    if (other !== undefined || RESERVED_PORTS.has(s.port))
      throw companionErrors.create(
        'COMPANION_PORT_TAKEN',
        `${SERVICES_FILE}:${line}: port ${s.port} of service ${s.name} is taken ${other ? `by service ${other}` : 'by aibox'}`,
        { file: SERVICES_FILE, line, service: s.name, port: s.port },
      );
    ports.set(s.port, s.name);
    for (const key of LIMIT_KEYS) {
      const asked = s.limits?.[key];
      if (asked !== undefined && ceiling && asked > ceiling[key])
        throw invalid(
          lineOf(nodeAt(doc.contents, ['services', i, 'limits', key])?.range?.[0]),
          `services.${i}.limits.${key}: ${asked} is above the sandbox profile's ${ceiling[key]}`,
        );
    }
    const command = s.command ?? defaultCommand(s);
    if (!command)
      throw invalid(line, `services.${i}.command: pack ${s.pack} has no default command: give one`);
    const { egress: _egress, command: _command, ...rest } = s;
    out.push({ ...rest, command });
  }
  return out;
}

/** The known packs' server commands: listen on every address of the service's own namespace (only the link). */
function defaultCommand(s: ServiceSpec): string[] | undefined {
  const data = s.data?.path ?? '/data';
  const pack = s.pack.replace(/@.*$/, '');
  if (pack === 'postgresql') {
    // initdb's pg_hba.conf admits loopback only; the agent comes over the private link, the namespace's one way in.
    const pg = `${data}/pgdata`;
    return [
      '/bin/sh',
      '-c',
      `test -s ${pg}/PG_VERSION || { initdb -D ${pg} -U postgres --auth=trust >/dev/null && echo 'host all all 0.0.0.0/0 trust' >>${pg}/pg_hba.conf; } && exec postgres -D ${pg} -k /tmp -c listen_addresses='*' -p ${s.port}`,
    ];
  }
  if (pack === 'redis')
    return [
      'redis-server',
      '--port',
      String(s.port),
      '--bind',
      '0.0.0.0',
      '--protected-mode',
      'no',
      '--dir',
      data,
    ];
  return undefined;
}

function invalid(line: number, message: string) {
  return companionErrors.create('COMPANION_SPEC_INVALID', `${SERVICES_FILE}:${line}: ${message}`, {
    file: SERVICES_FILE,
    line,
  });
}
