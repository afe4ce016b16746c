#!/usr/bin/env python3
"""
A LangGraph-style tool: a plain function with a typed signature and a docstring (what LangGraph / LangChain turn
into a tool schema) that runs a shell command in an aibox session and returns what a model should read. One
session serves the whole conversation and is removed at the end.

With langchain-core installed, `as_langchain_tool()` wraps it with `@tool`; without it the function is used
directly, as below (no third-party package is needed to run this file).

    AIBOX_URL=… AIBOX_TOKEN=… python3 langgraph_tool.py
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from aibox_client import AiboxClient, Session

MAX_CHARS = 8000


class SandboxTool:
    def __init__(self, client: Optional[AiboxClient] = None, **session_options: Any) -> None:
        self.client = client or AiboxClient()
        self.session_options = session_options
        self.session: Optional[Session] = None

    def __enter__(self) -> "SandboxTool":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.session:
            self.session.close()

    def run_command(self, command: str, timeout_seconds: int = 60) -> str:
        """Run a shell command in an isolated Linux sandbox (working directory /workspace) and return its exit
        code, standard output and standard error. Files written under /workspace persist between calls."""
        if self.session is None:
            self.session = self.client.create_session(**self.session_options)
        r = self.session.exec(command, timeout=timeout_seconds)
        text = f"exit code: {r.exit_code}{' (timed out)' if r.timed_out else ''}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        return text[:MAX_CHARS]

    def as_langchain_tool(self) -> Callable[..., str]:
        from langchain_core.tools import tool  # type: ignore[import-not-found]  # optional

        return tool(self.run_command)  # type: ignore[no-any-return]


if __name__ == "__main__":
    with SandboxTool(ttl_seconds=300) as sandbox:
        # what an agent graph would do, step by step
        print(sandbox.run_command("echo 'print(sum(range(10)))' > sum.py && ls"))
        print(sandbox.run_command("python3 sum.py"))
        print(sandbox.run_command("sleep 5", timeout_seconds=1))
