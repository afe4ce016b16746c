# Org baseline: network egress. Deny by default: only what allow_domains lists is reachable.
package aibox.org.egress

import rego.v1

allow_domains contains d if some d in data.org.egress.mirrors

allow_domains contains d if some d in data.org.egress.git_servers

allow_domains contains d if some d in data.org.egress.llm_gateways

allow_ports := {443}

# Egress goes to names only: an IP literal would skip the DNS allowlist.
deny contains msg if {
	regex.match(`^[0-9.]+$|:`, input.host)
	msg := sprintf("%s is an IP literal: the sandbox may reach host names only", [input.host])
}
