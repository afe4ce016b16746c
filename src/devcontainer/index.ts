export { devcontainerErrors } from './errors.js';
export { KNOWN_KEYS, lineColumn, parseDevcontainer, type ParsedDevcontainer } from './parse.js';
export {
  planDevcontainer,
  type DevcontainerPlan,
  type KeyReport,
  type KeyStatus,
  type PlannedCommand,
  type PlannedMount,
  type PlanOptions,
} from './plan.js';
export { mapFeature, mapImage, pickVersion, type PackWant } from './features.js';
export { substitute, type VariableContext } from './variables.js';
export {
  DEVCONTAINER_MAX_BYTES,
  DEVCONTAINER_PATHS,
  readDevcontainer,
  type DevcontainerSource,
} from './read.js';

import { parseDevcontainer } from './parse.js';
import { planDevcontainer, type DevcontainerPlan, type PlanOptions } from './plan.js';
import type { DevcontainerSource } from './read.js';

/** Parse and plan in one step. */
export function devcontainerPlan(source: DevcontainerSource, opts: PlanOptions): DevcontainerPlan {
  return planDevcontainer(source.file, parseDevcontainer(source.file, source.text), opts);
}
