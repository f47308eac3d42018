"""Replays source files word by word against an /autocomplete server and scores it.

  python scripts/eval_autocomplete.py http://127.0.0.1:8000 DATA_DIR [--files=20] [--seed=0]

DATA_DIR is a folder of source files (e.g. a held-out part of the dev dataset). For each of N
files picked with a fixed seed, the text is split on single spaces and each growing prefix
(stripped) is sent; a hit is the true next word appearing inside any suggestion. Accuracy =
hits / (words - 1), per file and overall; also stricter variants: the exact next word (first
word of the top suggestion), and full line — the top suggestion against the true rest of the
line (CodeXGLUE exact match and edit similarity, 0-100, over queries inside a line).
"""
import argparse
import glob
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from code_t5 import autocomplete, metrics  # noqa: E402


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("url", help="server base URL, e.g. http://127.0.0.1:8000")
  parser.add_argument("data_dir", help="folder of source files to replay")
  parser.add_argument("--files", type=int, default=20, help="files to replay (default: 20)")
  parser.add_argument("--seed", type=int, default=0, help="file sampling seed (default: 0)")
  parser.add_argument("--ext", default=".py", help="file extension to replay (default: .py)")
  parser.add_argument("--max_words", type=int, default=400,
                      help="replay at most this many words per file (default: 400)")
  parser.add_argument("--k", type=int, default=5, help="suggestions per request (default: 5)")
  args = parser.parse_args(argv)
  import httpx  # pylint: disable=g-import-not-at-top
  import tqdm  # pylint: disable=g-import-not-at-top

  paths = sorted(glob.glob(os.path.join(args.data_dir, "**", f"*{args.ext}"), recursive=True))
  if not paths:
    print(f"error: {args.data_dir}: no *{args.ext} files to replay.", file=sys.stderr)
    return 2
  paths = random.Random(args.seed).sample(paths, min(args.files, len(paths)))
  per_file, hits, exact, queries = [], 0, 0, 0
  lines, tops = [], []  # the full-line variant: true rest of line, top suggestion
  with httpx.Client(base_url=args.url, timeout=60) as client:
    try:
      client.get("/health").raise_for_status()
    except httpx.HTTPError as e:
      print(f"error: {args.url}: server not reachable ({e}).", file=sys.stderr)
      return 2
    for path in tqdm.tqdm(paths, desc="replaying", unit="file"):
      with open(path, encoding="utf-8", errors="replace") as f:
        text = " ".join(f.read().split(" ")[:args.max_words])
      file_hits = file_exact = 0
      pairs = autocomplete.replay_queries(text)
      for (prefix, word), rest in zip(pairs, autocomplete.rests_of_lines(text)):
        response = client.post("/autocomplete", json={"text": prefix, "k": args.k})
        response.raise_for_status()
        suggestions = response.json()["result"]
        file_hits += autocomplete.is_hit(word, suggestions)
        file_exact += autocomplete.is_exact_next_word(word, suggestions)
        if rest:
          lines.append(rest)
          tops.append(suggestions[0].strip() if suggestions else "")
      per_file.append({"file": path, "queries": len(pairs),
                       "accuracy": file_hits / max(len(pairs), 1)})
      hits, exact, queries = hits + file_hits, exact + file_exact, queries + len(pairs)
  print(json.dumps({"files": len(paths), "queries": queries,
                    "accuracy": hits / max(queries, 1),
                    "exact_next_word": exact / max(queries, 1), "full_line_queries": len(lines),
                    "full_line_exact_match": metrics.exact_match(lines, tops)["exact_match"],
                    "full_line_edit_similarity":
                        metrics.edit_similarity(lines, tops)["edit_similarity"],
                    "per_file": per_file}, indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
