# Org baseline: tool and MCP packs that may be installed.
package aibox.org.packs

import rego.v1

allowed := {"node", "python", "go", "rust", "java", "git-tools", "mcp-filesystem", "mcp-git"}
