package aibox.org.push_test

import rego.v1

import data.aibox.org.push

test_feature_branch_allowed if {
	push.decision == "allow" with input as {"ref": "refs/heads/feature/x", "branch": "feature/x", "force": false}
}

test_main_needs_approval if {
	push.decision == "approve" with input as {"ref": "refs/heads/main", "branch": "main", "force": false}
}

test_release_glob_needs_approval if {
	push.decision == "approve" with input as {"ref": "refs/heads/release/1.2", "branch": "release/1.2", "force": false}
}

test_force_push_to_main_denied if {
	push.decision == "deny" with input as {"ref": "refs/heads/main", "branch": "main", "force": true}
}

test_tags_need_approval if {
	push.decision == "approve" with input as {"ref": "refs/tags/v1.0", "branch": "refs/tags/v1.0", "force": false}
}
