import { defineErrors } from '../shared/index.js';

/** Agent-proposed policy changes and learn mode (`aibox policy proposals`, `aibox egress learn`). */
export const proposalErrors = defineErrors({
  PROPOSAL_INVALID: {
    status: 400,
    hint: 'Send JSON {host, port?, methods?, paths?, reason}: a host name or *.domain, methods like GET, paths starting with /.',
  },
  PROPOSAL_UNAUTHORIZED: {
    status: 401,
    hint: 'Send the sandbox’s own submission token: `Authorization: Bearer $AIBOX_PROPOSALS_TOKEN` (set in every sandbox); only that sandbox may submit to its endpoint.',
  },
  PROPOSAL_TOO_LARGE: { status: 413, hint: 'A proposal is a few fields: keep the body under 8 KiB.' },
  PROPOSAL_RATE_LIMITED: {
    status: 429,
    hint: 'Too many proposals from this sandbox: wait a minute, or ask the person reviewing them (`aibox policy proposals`).',
  },
  PROPOSAL_NOT_FOUND: { status: 404, hint: 'List proposals with `aibox policy proposals [--sandbox S]`.' },
  PROPOSAL_ALREADY_DECIDED: {
    status: 409,
    hint: 'This proposal was already approved or rejected; `aibox policy proposals --all` shows its outcome.',
  },
  PROPOSAL_NO_PROJECT: {
    status: 409,
    hint: 'The sandbox has no host project folder with an aibox/ directory: create aibox/policy.yaml in the project, or change the org/team policy.',
  },
  PROPOSAL_PROJECT_UNSAFE: {
    status: 409,
    hint: 'aibox/ and aibox/policy.yaml must be a real folder and a regular file (no symbolic link) owned by the project folder’s owner; fix them on the host.',
  },
  PROPOSAL_PROJECT_INVALID: {
    status: 409,
    hint: 'The project’s aibox/policy.yaml does not load (or would not after the change): fix it (`aibox policy show --sandbox S`), then approve again.',
  },
  PROPOSALS_UNAVAILABLE: {
    status: 503,
    hint: 'This daemon was built without the proposals layer; restart aiboxd (a normal start always has it).',
  },
  LEARN_NOT_ALLOWED: {
    status: 403,
    hint: 'Learn mode needs `egress.allow_learning := true` in the org or team policy (never for production teams) and a profile that allows it.',
  },
  LEARN_NOT_FOUND: {
    status: 404,
    hint: 'Start one with `aibox egress learn SANDBOX --for 10m`; a daemon restart forgets finished runs.',
  },
  LEARN_ALREADY_RUNNING: { status: 409, hint: 'Wait for the running learn session of this sandbox to end.' },
  LEARN_NOT_ENFORCED: {
    status: 409,
    hint: 'Learn mode observes the sandbox’s egress proxy and DNS: the sandbox needs enforced egress (a root daemon with a network).',
  },
});
