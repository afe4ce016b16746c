import { defineErrors } from '../shared/index.js';

/**
 * The policy module's error catalogue. Load-time errors carry `details.file`, `details.line` (when known),
 * `details.key`, `details.value` and `details.policyLayer` (org, team:<team>, project), so the CLI and `aibox doctor` can point at the exact spot.
 */
export const policyErrors = defineErrors({
  POLICY_REPO_MISSING: {
    status: 400,
    hint: 'Set `policy.repo` in the daemon config to a directory holding org/ (and optionally teams/<team>/).',
  },
  POLICY_TEAM_MISSING: {
    status: 400,
    hint: 'Create teams/<team>/ in the policy repo, or fix the project → team mapping (org `projects.team` rule) or `policy.defaultTeam`.',
  },
  POLICY_REGO_ERROR: {
    status: 400,
    hint: 'Fix the Rego at the location shown; `aibox policy test` runs the policy repo offline.',
  },
  POLICY_WRONG_PACKAGE: {
    status: 400,
    hint: 'Org modules declare `package aibox.org…`, team modules `package aibox.team.<team>…` (docs/policy.md).',
  },
  POLICY_BAD_VALUE: {
    status: 400,
    hint: 'The rule produced a value of the wrong shape; docs/policy.md lists the type of every rule.',
  },
  POLICY_DATA_INVALID: {
    status: 400,
    hint: 'Data files must be YAML or JSON objects; fix the file shown.',
  },
  POLICY_PROJECT_INVALID: {
    status: 400,
    hint: 'Fix aibox/policy.yaml at the key shown; docs/policy.md describes the schema.',
  },
  POLICY_PROJECT_TEAM: {
    status: 400,
    hint: 'Remove `team:` from aibox/policy.yaml: the org picks a project\u2019s team (the `projects.team` rule of the org layer, else the daemon\u2019s `policy.defaultTeam`), never a file the agent can edit.',
  },
  POLICY_PROJECT_UNSAFE: {
    status: 400,
    hint: 'Make aibox/ a real folder and aibox/policy.yaml a regular file of at most 64 KiB, both owned by the project\u2019s owner, with no symbolic links; then start the sandbox again.',
  },
  POLICY_PROJECT_PENDING: {
    status: 409,
    hint: 'aibox/ did not exist when the sandbox started, so it was not protected from the agent and is not read: check its content, then restart the sandbox (`aibox stop NAME && aibox start NAME`) to apply it.',
  },
  POLICY_LOOSENING: {
    status: 400,
    hint: 'A lower layer may only narrow what the layers above allow: remove the value or ask the owner of the higher layer.',
  },
  POLICY_BAD_REQUEST: {
    status: 400,
    hint: 'The request does not match the door\u2019s schema (docs/policy.md, "Doors").',
  },
  POLICY_DENIED: {
    status: 403,
    hint: 'Run `aibox policy explain --log-entry <decision id>` to see which layer and rule refused it, and ask that layer\u2019s owner.',
  },
  POLICY_NOT_LOADED: {
    status: 503,
    hint: 'No valid policy has been loaded yet: fix the error shown by `aibox doctor` or `aibox policy show`.',
  },
  POLICY_LAYER_REFUSED: {
    status: 500,
    hint: 'An enforcement layer could not apply a policy change, so the previous policy stays in force there (`aibox policy show` shows it, with this error): fix the policy edit, or see the daemon log for the layer\u2019s failure.',
  },
  POLICY_DECISION_NOT_FOUND: {
    status: 404,
    hint: 'Decision ids look like dec_…; they are printed in 403 bodies and listed by `aibox audit tail --kind decision`.',
  },
});
