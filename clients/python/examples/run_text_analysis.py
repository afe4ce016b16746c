#!/usr/bin/env python3
"""
Runs the text-analysis agent inside a fresh aibox session: upload the agent and a document, run it with a
timeout, read its JSON answer, and let the context manager remove the session.

    AIBOX_URL=http://127.0.0.1:7373 AIBOX_TOKEN=aibox_tok_… python3 run_text_analysis.py [document.txt]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aibox_client import AiboxClient

SAMPLE = (
    "The new release is fast and reliable, and users love the simpler setup. "
    "Startup time improved by half, which is a great win for small teams. "
    "One problem remains: large uploads are still slow on weak networks. "
    "Overall the team is happy with the progress and expects better results next quarter."
)


def main() -> int:
    text = Path(sys.argv[1]).read_text(encoding="utf-8") if len(sys.argv) > 1 else SAMPLE
    agent = (Path(__file__).parent / "text_analysis_agent.py").read_text(encoding="utf-8")
    with AiboxClient().session(ttl_seconds=300, files={"agent.py": agent, "input.txt": text}) as session:
        result = session.exec(["python3", "agent.py", "input.txt", "--sentences", "2"], timeout=60)
        if not result.ok:
            print(result.stderr, file=sys.stderr)
            return result.exit_code
        analysis = json.loads(result.stdout)
    print(json.dumps(analysis, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
