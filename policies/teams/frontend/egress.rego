# Team frontend: npm and GitHub only (narrows the org's mirrors).
package aibox.team.frontend.egress

import rego.v1

allow_domains := {"registry.npmjs.org", "github.com", "codeload.github.com"}
