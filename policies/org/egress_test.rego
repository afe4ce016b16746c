package aibox.org.egress_test

import rego.v1

import data.aibox.org.egress

test_mirrors_and_git_server_allowed if {
	"registry.npmjs.org" in egress.allow_domains
	"github.com" in egress.allow_domains
}

test_other_hosts_not_allowed if {
	not "example.com" in egress.allow_domains
}

test_only_https if {
	egress.allow_ports == {443}
}

test_ip_literal_denied if {
	count(egress.deny) == 1 with input as {"host": "93.184.216.34", "port": 443}
}

test_ipv6_literal_denied if {
	count(egress.deny) == 1 with input as {"host": "2606:2800::1", "port": 443}
}

test_name_not_denied if {
	count(egress.deny) == 0 with input as {"host": "pypi.org", "port": 443}
}
