package aibox.org.projects_test

import rego.v1

import data.aibox.org.projects

test_listed_project_gets_its_team if {
	projects.team == "frontend" with input as {"path": "/srv/shop"}
		with data.org.projects.teams as {"/srv/shop": "frontend"}
}

test_unlisted_project_gets_no_team_from_the_org if {
	not projects.team with input as {"path": "/srv/other"}
		with data.org.projects.teams as {"/srv/shop": "frontend"}
}
