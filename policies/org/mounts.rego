# Org baseline: host paths a sandbox may mount (its project folder included).
package aibox.org.mounts

import rego.v1

allow := [
	{"path": "/home", "mode": "rw"},
	{"path": "/work", "mode": "rw"},
	{"path": "/srv", "mode": "rw"},
	{"path": "/tmp", "mode": "rw"},
	{"path": "/var/tmp", "mode": "rw"},
]

# Credentials folders never enter a sandbox, wherever they are.
secret_dirs := {".ssh", ".gnupg", ".aws", ".kube", ".docker", ".netrc", ".git-credentials"}

deny contains msg if {
	some part in split(input.source, "/")
	part in secret_dirs
	msg := sprintf("%s holds credentials (%s) and may not be mounted", [input.source, part])
}

deny contains msg if {
	endswith(input.source, ".sock")
	msg := sprintf("%s is a socket: host daemons are not exposed to sandboxes", [input.source])
}
