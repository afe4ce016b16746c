export { engineErrors, type EngineErrorCode } from './errors.js';
export { decideCreate, decideRequest, type EngineDecision, type Refusal } from './filter.js';
export { diskFullLines, EngineFront, type EngineFrontOptions, type EngineRequestRecord } from './front.js';
export { dockerInfo, libpodInfo, type EngineInfoFacts, type EngineLiveFacts } from './info.js';
export { EngineImage, ENGINE_IMAGE_NAME, type EngineImageOptions } from './image.js';
export { engineContainerSpec, engineLabelId, type EngineSpec } from './spec.js';
export {
  ENGINE_CA_DIR,
  ENGINE_FILES,
  ENGINE_MOUNTS_CONF,
  ENGINE_NET_READY,
  ENGINE_PACKAGES,
  ENGINE_SOCKET_DIR,
  engineMountsConf,
} from './recipe.js';
export {
  checkEngineRuleset,
  EngineNetwork,
  renderEngineNftables,
  type EngineNetInput,
  type EngineNetworkOptions,
} from './net.js';
export { diskMountProblem, EngineStore, ENGINE_DISK_DEFAULT_MIB, type EngineStoreOptions } from './store.js';
export { EngineSandboxes, type EngineSandboxesOptions } from './sandbox.js';
