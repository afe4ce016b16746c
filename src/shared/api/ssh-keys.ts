import { z } from 'zod';

/** A public key allowed to log in to the SSH gateway. */
export const SshKeyReport = z.object({
  fingerprint: z.string().describe('SHA256 fingerprint, as `ssh-keygen -l` prints it.'),
  type: z.string().describe('Key type: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, …'),
  comment: z.string(),
  addedAt: z.string(),
});
export type SshKeyReport = z.infer<typeof SshKeyReport>;

export const SshKeyList = z.object({ keys: z.array(SshKeyReport) });
export type SshKeyList = z.infer<typeof SshKeyList>;

export const AddSshKeyRequest = z
  .object({
    publicKey: z
      .string()
      .min(1)
      .max(16 * 1024)
      .describe('Contents of an OpenSSH public key file (`ssh-ed25519 AAAA… comment`); never a private key.'),
  })
  .strict();
export type AddSshKeyRequest = z.infer<typeof AddSshKeyRequest>;

export const RemoveSshKeyQuery = z
  .object({
    key: z.string().min(1).max(512).describe('Fingerprint (SHA256:…) or comment of the key to remove.'),
  })
  .strict();

export const SshGatewayReport = z.object({
  enabled: z.boolean(),
  host: z.string(),
  port: z.number().int(),
  hostKeyAlias: z.string().describe('HostKeyAlias clients use; the known_hosts file lists the key under it.'),
  hostKeyFingerprint: z.string().optional(),
  knownHostsFile: z
    .string()
    .optional()
    .describe('Host path of the known_hosts file the daemon keeps (readable by all).'),
  knownHosts: z
    .string()
    .optional()
    .describe('Its contents, for clients that cannot read the daemon state directory.'),
});
export type SshGatewayReport = z.infer<typeof SshGatewayReport>;
