# Team platform: infrastructure tools run from CI, never from an agent's sandbox.
package aibox.team.platform.exec

import rego.v1

deny contains msg if {
	parts := split(input.argv[0], "/")
	name := parts[count(parts) - 1]
	name in {n | some n in data.teams.platform.extra_denied_commands}
	msg := sprintf("%s runs from CI only (team platform)", [name])
}
