package aibox.org.mounts_test

import rego.v1

import data.aibox.org.mounts

test_ssh_dir_denied if {
	count(mounts.deny) == 1 with input as {"source": "/home/me/.ssh", "mode": "ro"}
}

test_socket_denied if {
	count(mounts.deny) == 1 with input as {"source": "/run/user/1000/podman/podman.sock", "mode": "ro"}
}

test_project_not_denied if {
	count(mounts.deny) == 0 with input as {"source": "/home/me/src/app", "mode": "rw"}
}
