#!/usr/bin/env python3
"""
A small text-analysis agent, standard library only, meant to run *inside* an aibox session: sentiment (a
lexicon score), keywords (term frequency without stop words) and an extractive summary (the sentences that carry
the most keyword weight). Reads a file (or stdin) and prints one JSON object.

    python3 text_analysis_agent.py article.txt [--sentences 2] [--keywords 5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from typing import Dict, List

POSITIVE = set(
    "good great excellent amazing love loved like liked happy glad pleasant wonderful fantastic best better "
    "success successful win wins won gain gains improve improved improvement benefit benefits positive secure "
    "safe fast reliable easy helpful clear strong robust delight delighted enjoy enjoyed".split()
)
NEGATIVE = set(
    "bad poor terrible awful hate hated dislike sad angry unhappy worst worse fail failed failure lose loss "
    "losses broken bug bugs crash crashes slow risk risky unsafe leak leaks breach problem problems difficult "
    "hard weak negative attack attacks vulnerable error errors".split()
)
NEGATORS = {"not", "no", "never", "hardly", "without", "isn't", "wasn't", "don't", "doesn't", "didn't", "cannot"}
STOP = set(
    "a an the and or but if then than so of to in on at by for with from as is are was were be been being it its "
    "this that these those there here i you he she we they them his her our your their my me us not no do does did "
    "have has had will would can could should may might must also very more most such into over about after before "
    "which who whom what when where why how all any each other some only own same too just up out off again further "
    "once both few many much nor per via isn't wasn't don't doesn't didn't cannot".split()
)
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def words(text: str) -> List[str]:
    return [w.lower() for w in WORD.findall(text)]


def sentiment(text: str) -> Dict[str, object]:
    tokens = words(text)
    score = 0
    for i, w in enumerate(tokens):
        polarity = 1 if w in POSITIVE else -1 if w in NEGATIVE else 0
        if polarity and any(t in NEGATORS for t in tokens[max(0, i - 2) : i]):
            polarity = -polarity
        score += polarity
    norm = score / max(1, len(tokens)) * 10
    label = "positive" if norm > 0.25 else "negative" if norm < -0.25 else "neutral"
    return {"label": label, "score": round(norm, 3), "raw": score}


def keywords(text: str, k: int) -> List[Dict[str, object]]:
    counts = Counter(w for w in words(text) if w not in STOP and len(w) > 2)
    return [{"word": w, "count": c} for w, c in counts.most_common(k)]


def summary(text: str, n: int) -> List[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]
    if len(sentences) <= n:
        return sentences
    weights = Counter(w for w in words(text) if w not in STOP and len(w) > 2)
    scored = []
    for i, s in enumerate(sentences):
        ws = [w for w in words(s) if w in weights]
        scored.append((sum(weights[w] for w in ws) / (len(ws) + 3), i))
    best = sorted(i for _, i in sorted(scored, reverse=True)[:n])
    return [sentences[i] for i in best]


def analyse(text: str, n_sentences: int = 2, n_keywords: int = 5) -> Dict[str, object]:
    return {
        "characters": len(text),
        "words": len(words(text)),
        "sentiment": sentiment(text),
        "keywords": keywords(text, n_keywords),
        "summary": summary(text, n_sentences),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("file", nargs="?", help="text file (default: stdin)")
    parser.add_argument("--sentences", type=int, default=2)
    parser.add_argument("--keywords", type=int, default=5)
    args = parser.parse_args()
    text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    json.dump(analyse(text, args.sentences, args.keywords), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
