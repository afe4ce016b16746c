package aibox.team.frontend.limits

import rego.v1

max := {"cpus": 2, "memory_mb": 4096}
