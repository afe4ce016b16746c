import json
import subprocess
import sys
import unittest
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import text_analysis_agent as agent  # noqa: E402


class TextAnalysisAgentTest(unittest.TestCase):
    def test_sentiment_handles_negation(self) -> None:
        self.assertEqual(agent.sentiment("This is great and I love it.")["label"], "positive")
        self.assertEqual(agent.sentiment("Terrible, slow and broken.")["label"], "negative")
        self.assertEqual(agent.sentiment("This is not good at all, never good.")["label"], "negative")
        self.assertEqual(agent.sentiment("The table has four legs.")["label"], "neutral")

    def test_keywords_skip_stop_words(self) -> None:
        kws = agent.keywords("The sandbox runs code. The sandbox isolates code. Sandbox!", 2)
        self.assertEqual(kws, [{"word": "sandbox", "count": 3}, {"word": "code", "count": 2}])

    def test_summary_keeps_the_heaviest_sentences_in_order(self) -> None:
        text = "Cats sleep. Sandboxes isolate code and sandboxes isolate data. Dogs bark. Code in sandboxes is safe."
        self.assertEqual(agent.summary(text, 2), ["Sandboxes isolate code and sandboxes isolate data.", "Code in sandboxes is safe."])
        self.assertEqual(agent.summary("One sentence only.", 3), ["One sentence only."])

    def test_runs_as_a_script_on_stdin(self) -> None:
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / "text_analysis_agent.py"), "--keywords", "1"],
            input="Reliable and fast. Fast is good.", capture_output=True, text=True, check=True,
        ).stdout
        result = json.loads(out)
        self.assertEqual(result["sentiment"]["label"], "positive")
        self.assertEqual(result["keywords"], [{"word": "fast", "count": 2}])


if __name__ == "__main__":
    unittest.main()


class SandboxToolTest(unittest.TestCase):
    def test_tool_opens_one_session_lazily_and_removes_it(self) -> None:
        from aibox_client import AiboxClient
        from langgraph_tool import SandboxTool

        from .fake_server import TOKEN, FakeAiboxd

        with FakeAiboxd() as fake:
            with SandboxTool(AiboxClient(fake.url, TOKEN), ttl_seconds=60) as tool:
                self.assertEqual(fake.sessions, {})
                out = tool.run_command("echo hi")
                tool.run_command("ls")
                self.assertTrue(out.startswith("exit code: 0\nstdout:\n/bin/sh -c echo hi"))
                self.assertEqual(len(fake.sessions), 1)
            self.assertEqual(fake.sessions, {})
            self.assertIn("run a shell command", (SandboxTool.run_command.__doc__ or "").lower())
