import { z } from 'zod';

/** A sandbox security profile (profiles/<name>.yaml). */
export const ProfileFile = z
  .object({
    description: z.string(),
    limits: z
      .object({
        memoryMiB: z
          .number()
          .int()
          .min(64)
          .describe('Memory of the whole sandbox; exceeding it kills the sandbox.'),
        cpus: z.number().positive().max(64),
        pids: z
          .number()
          .int()
          .min(128)
          .describe('Host threads of the sandbox, gVisor included (pids cgroup).'),
        processes: z
          .number()
          .int()
          .min(8)
          .describe('RLIMIT_NPROC of the sandbox user: a fork storm fails gracefully inside at this count.'),
        openFiles: z.number().int().min(64).max(20000),
        tmpfsMiB: z.number().int().min(16),
      })
      .strict()
      .refine((l) => l.processes * 4 < l.pids, {
        message: 'processes must stay well below pids (gVisor needs host threads of its own)',
      }),
    seccomp: z.string().min(1).describe('Seccomp profile, relative to the profiles directory.'),
    containerEngine: z
      .boolean()
      .optional()
      .describe(
        'false: sandboxes of this profile never get a container engine, whatever the containers policy door says.',
      ),
    containerEngineDiskMiB: z
      .number()
      .int()
      .min(2048)
      .max(1024 * 1024)
      .optional()
      .describe(
        "Hard size cap of the container engine's disk (its root filesystem, images, layers, build writes): a loop-mounted ext4 file. Default 20480.",
      ),
    egressLearning: z
      .boolean()
      .optional()
      .describe(
        '`aibox egress learn` may run on sandboxes of this profile (the org/team policy must allow it too).',
      ),
  })
  .strict();
export type ProfileFile = z.infer<typeof ProfileFile>;

export interface Profile extends ProfileFile {
  name: string;
  /** Absolute path of the seccomp JSON. */
  seccompPath: string;
}

export const PROFILE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
