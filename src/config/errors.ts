import { defineErrors } from '../shared/index.js';

export const configErrors = defineErrors({
  CONFIG_NOT_FOUND: { status: 400, hint: 'Check the path given to --config.' },
  CONFIG_INVALID_YAML: { status: 400, hint: 'Fix the YAML syntax at the line shown.' },
  CONFIG_INVALID: { status: 400, hint: 'Fix or remove the named key; see config/aiboxd.yaml for every key.' },
  PROFILE_NOT_FOUND: {
    status: 404,
    hint: 'List the profiles with `ls profiles/` or use `default` or `session`.',
  },
  PROFILE_INVALID: { status: 400, hint: 'Fix the named key in the profile file.' },
});
