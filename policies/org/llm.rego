# Org baseline: LLM use through aiboxd's LLM proxy.
package aibox.org.llm

import rego.v1

allowed_providers := {"anthropic", "openai"}

allowed_models := {"claude-*", "gpt-4*", "gpt-5*"}

limits := {"max_tokens_per_request": 64000, "requests_per_minute": 120}
