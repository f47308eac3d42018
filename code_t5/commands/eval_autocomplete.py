"""Replays source files word by word against an /autocomplete server and scores it.

  code-t5-eval-autocomplete http://127.0.0.1:8000 DATA_DIR [--files=20] [--seed=0]

DATA_DIR is a folder of source files (e.g. a held-out part of the dev dataset); N files are
picked with a fixed seed. Headline numbers (strict): a query before each word (a maximal run of
non-whitespace) sending the exact text before it; `exact_next_word` = the top suggestion's first
word is the next word; `full_line_*` = the top suggestion against the rest of the line,
CodeXGLUE's line-level exact match and edit similarity (0-100). They are given over whole files
and `after_header` (after each file's leading comment block, e.g. a licence), plus `task_cut`:
one query per file at the full_line task's cut, the example t5x.eval and t5x.infer score.
`accuracy` is the seed's lenient hit rule (the next word inside any of the k suggestions) over
the same queries, not a headline; --seed_protocol adds the seed's whole protocol (split on single
spaces, stripped prefixes, empty pieces counted) as `seed_protocol_accuracy`, for old numbers.
"""
import glob
import json
import os
import random
import sys

from code_t5.commands import shared
from code_t5.autocomplete import client
from code_t5.autocomplete import replay


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("url", help="server base URL, e.g. http://127.0.0.1:8000")
  parser.add_argument("data_dir", help="folder of source files to replay")
  parser.add_argument("--files", type=int, default=20, help="files to replay (default: 20)")
  parser.add_argument("--seed", type=int, default=0, help="file sampling seed (default: 0)")
  parser.add_argument("--ext", default=".py", help="file extension to replay (default: .py)")
  parser.add_argument("--max_words", type=int, default=400,
                      help="replay at most this many words per file (default: 400)")
  parser.add_argument("--k", type=int, default=5,
                      help="suggestions per request (default: 5; the server allows 1-20)")
  parser.add_argument("--context_chars", type=int, default=16384,
                      help="send at most this many characters before the cursor (default: "
                      "%(default)s)")
  parser.add_argument("--wait_seconds", type=float, default=120,
                      help="wait this long for the server to answer /health (default: "
                      "%(default)s)")
  parser.add_argument("--with_suffix", action="store_true",
                      help="the fill-in-the-middle variant: each query also sends the rest of "
                      "the file after the cursor's line as `suffix` (a model trained with FIM; "
                      "reported as protocol strict_with_suffix, apart from prefix-only numbers)")
  parser.add_argument("--seed_protocol", action="store_true",
                      help="also replay the seed's whole protocol, for old numbers "
                      "(seed_protocol_accuracy; twice the requests)")
  args = parser.parse_args(argv)
  if args.k < 1:
    parser.error(f"--k={args.k}: ask for at least 1 suggestion.")
  import httpx  # pylint: disable=g-import-not-at-top
  import tqdm  # pylint: disable=g-import-not-at-top

  paths = sorted(glob.glob(os.path.join(args.data_dir, "**", f"*{args.ext}"), recursive=True))
  if not paths:
    print(f"error: {args.data_dir}: no *{args.ext} files to replay.", file=sys.stderr)
    return 2
  paths = random.Random(args.seed).sample(paths, min(args.files, len(paths)))

  def files(progress):
    for path in paths:
      with open(path, encoding="utf-8", errors="replace") as f:
        yield path, f.read()
      progress.update()

  with httpx.Client(base_url=args.url, timeout=60) as http:
    try:  # a server started just before (`... &`) may still be loading its model
      client.wait_until_up(http, args.url, args.wait_seconds)
    except client.ServerError as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    cap = client.k_cap(http)
    if cap is not None and args.k > cap:
      print(f"error: --k={args.k}: the server at {args.url} returns at most {cap} suggestions "
            f"per request (its /openapi.json caps k at {cap}); pass --k={cap} or less.",
            file=sys.stderr)
      return 2
    try:
      with tqdm.tqdm(total=len(paths), desc="replaying", unit="file") as progress:
        report = replay.replay(client.make_complete(http, args.url, args.k), files(progress),
                                     max_words=args.max_words, context_chars=args.context_chars,
                                     seed_protocol=args.seed_protocol, ext=args.ext,
                                     with_suffix=args.with_suffix)
    except client.ServerError as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
  print(json.dumps(report, indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
