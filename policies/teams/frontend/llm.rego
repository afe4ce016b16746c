package aibox.team.frontend.llm

import rego.v1

allowed_providers := {"anthropic"}

limits := {"max_tokens_per_request": 32000}
