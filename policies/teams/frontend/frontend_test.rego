package aibox.team.frontend_test

import rego.v1

test_frontend_narrows_to_npm_and_github if {
	data.aibox.team.frontend.egress.allow_domains == {"registry.npmjs.org", "github.com", "codeload.github.com"}
}

test_frontend_stays_inside_org if {
	every d in data.aibox.team.frontend.egress.allow_domains {
		d in data.aibox.org.egress.allow_domains
	}
}

test_gh_pages_denied if {
	data.aibox.team.frontend.push.decision == "deny" with input as {"branch": "gh-pages", "ref": "refs/heads/gh-pages"}
}

test_other_branches_no_opinion if {
	not data.aibox.team.frontend.push.decision with input as {"branch": "main", "ref": "refs/heads/main"}
}
