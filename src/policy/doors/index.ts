import { containersDoor } from './containers.js';
import { credentialsDoor } from './credentials.js';
import { egressDoor } from './egress.js';
import { execDoor } from './exec.js';
import { limitsDoor } from './limits.js';
import { llmDoor } from './llm.js';
import { mountsDoor } from './mounts.js';
import { packsDoor } from './packs.js';
import { pushDoor } from './push.js';

export type { Door } from './door.js';
export { egressDoor, EgressRequest, type EffectiveEgress, DEFAULT_EGRESS_PORTS } from './egress.js';
export { mountsDoor, MountRequest, MountRule, type EffectiveMounts } from './mounts.js';
export { execDoor, CommandRequest, commandName, type EffectiveExec } from './exec.js';
export { pushDoor, PushRequest, type EffectivePush } from './push.js';
export { llmDoor, LlmRequest, LlmLimits, type EffectiveLlm } from './llm.js';
export { packsDoor, PackRequest, type EffectivePacks } from './packs.js';
export { limitsDoor, Limits, LimitsRequest } from './limits.js';
export { credentialsDoor, CredentialRequest, type EffectiveCredentials } from './credentials.js';
export { containersDoor, ContainersRequest, type EffectiveContainers } from './containers.js';

/** Every door, in the order `aibox policy show` prints them. */
export const DOORS = {
  egress: egressDoor,
  mounts: mountsDoor,
  exec: execDoor,
  push: pushDoor,
  llm: llmDoor,
  packs: packsDoor,
  credentials: credentialsDoor,
  containers: containersDoor,
  limits: limitsDoor,
} as const;

export type DoorName = keyof typeof DOORS;
export const DOOR_NAMES = Object.keys(DOORS) as DoorName[];
