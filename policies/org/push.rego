# Org baseline: git push. Protected branches and tags need approval; force-pushing them is denied.
package aibox.org.push

import rego.v1

default decision := "allow"

decision := "deny" if {
	input.force
	protected
} else := "approve" if {
	protected
}

protected if {
	some pattern in data.org.push.protected
	glob.match(pattern, ["/"], input.branch)
}

protected if startswith(input.ref, "refs/tags/")
