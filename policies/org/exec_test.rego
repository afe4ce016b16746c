package aibox.org.exec_test

import rego.v1

import data.aibox.org.exec

test_plain_command_allowed if {
	count(exec.deny) == 0 with input as {"argv": ["npm", "test"], "via": "cli"}
}

test_escape_tool_denied if {
	some msg in exec.deny with input as {"argv": ["/usr/bin/nsenter", "-t", "1"], "via": "ssh"}
	contains(msg, "nsenter")
}

test_root_denied if {
	count(exec.deny) > 0 with input as {"argv": ["id"], "user": "root"}
}
