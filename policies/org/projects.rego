# The team layer of each project, chosen by the org: never by a file in the project (the agent can write those).
# input.path is the project folder on the host. Projects not listed get the daemon's policy.defaultTeam.
package aibox.org.projects

import rego.v1

team := data.org.projects.teams[input.path]
