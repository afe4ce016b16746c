import { defineErrors } from '../shared/index.js';

/** Stable error codes of tool and MCP packs. Codes never change meaning once shipped. */
export const packErrors = defineErrors({
  PACK_MANIFEST_INVALID: {
    status: 500,
    hint: 'Fix the manifest at the file and line shown (`aibox pack lint` lists every problem), then restart aiboxd.',
  },
  PACK_NOT_FOUND: {
    status: 404,
    hint: 'List the packs this daemon knows with `aibox pack list`; names are NAME or NAME@VERSION.',
  },
  PACK_VERSION_NOT_FOUND: {
    status: 404,
    hint: 'Pick one of the versions `aibox pack list` shows for this pack.',
  },
  PACK_BUILD_FAILED: {
    status: 502,
    hint: "The pack's sources could not be fetched or unpacked (network refused, missing package, checksum mismatch): nothing was kept; check the message and retry.",
  },
  PACK_BUILD_BUSY: {
    status: 409,
    hint: 'This pack is being built already; wait for that build to finish.',
  },
  PACK_ALREADY_INSTALLED: {
    status: 409,
    hint: 'The pack is installed in this sandbox already; `aibox packs --sandbox S` lists what is installed.',
  },
  PACK_NOT_INSTALLED: {
    status: 404,
    hint: 'Nothing to remove: `aibox packs --sandbox S` lists what is installed.',
  },
  PACK_IN_USE: {
    status: 409,
    hint: 'A process in the sandbox still runs from this pack; stop it (or the MCP server: `aibox mcp disable`), then retry.',
  },
  PACK_NOT_MCP: {
    status: 400,
    hint: 'Only packs with an `mcp` section are MCP servers; `aibox pack list` marks them.',
  },
  PACK_CACHE_IN_USE: {
    status: 409,
    hint: 'A sandbox still has this pack installed; uninstall it there first (`aibox uninstall NAME --sandbox S`).',
  },
  PACK_CREDENTIAL_UNAVAILABLE: {
    status: 409,
    hint: "The pack's manifest marks this credential required: store the secret (`aibox secret set NAME`) and let the org's credentials.allowed_secrets name it (`aibox policy explain` on the decision id shows the layer), then retry.",
  },
  PACK_BASE_IMAGE_MISSING: {
    status: 409,
    hint: "Build the base image first (`aibox update`): a pack's Debian closure is computed against it.",
  },
});
