# Org baseline: commands sent through aibox exec, the session API and SSH. Processes those commands start inside
# the sandbox are not seen here; the sandbox boundary, egress and mounts contain them.
package aibox.org.exec

import rego.v1

escape_tools := {"nsenter", "unshare", "mount", "insmod", "modprobe", "chroot"}

deny contains msg if {
	input.user in {"root", "0"}
	msg := "commands may not run as root inside the sandbox"
}

deny contains msg if {
	name := command_name(input.argv[0])
	name in escape_tools
	msg := sprintf("%s is a namespace or kernel tool and is not allowed in sandboxes", [name])
}

command_name(path) := name if {
	parts := split(path, "/")
	name := parts[count(parts) - 1]
}
