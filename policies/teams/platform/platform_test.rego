package aibox.team.platform_test

import rego.v1

test_kubectl_denied if {
	some msg in data.aibox.team.platform.exec.deny with input as {"argv": ["/usr/local/bin/kubectl", "apply"]}
	contains(msg, "kubectl")
}

test_go_allowed if {
	"proxy.golang.org" in data.aibox.team.platform.egress.allow_domains
}

test_platform_stays_inside_org if {
	every d in data.aibox.team.platform.egress.allow_domains {
		d in data.aibox.org.egress.allow_domains
	}
}
