# Org baseline: the most any sandbox may ask for.
package aibox.org.limits

import rego.v1

max := {"cpus": 4, "memory_mb": 8192, "pids": 1024, "disk_mb": 20480, "timeout_minutes": 720}
