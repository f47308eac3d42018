"""The replay evaluation's protocol: the queries a recorded file gives (the strict protocol and
the seed's lenient one), how a suggestion is scored, and `replay`, which runs a completer over
files and returns the report code-t5-eval-autocomplete prints.

`replay_queries`, `rests_of_lines` and `is_hit` are the seed's lenient protocol, kept for its
accuracy; `strict_queries` and `replay` give the headline numbers.
"""
import dataclasses
import re
from typing import Callable, Iterable, Optional, Sequence

from code_t5.data import full_line_cut
from code_t5.data import metrics

_WORD = re.compile(r"\S+")


def replay_queries(text: str) -> list[tuple[str, str]]:
  """The seed's protocol: split on single spaces; each growing prefix (stripped) is a query
  and the next piece the word to predict (an empty piece from indentation counts as a word).
  Gives len(pieces) - 1 (query, word) pairs."""
  pieces = text.split(" ")
  return [(" ".join(pieces[:i]).strip(), pieces[i]) for i in range(1, len(pieces))]


def rests_of_lines(text: str) -> list[str]:
  """For each of the seed's queries (same order as `replay_queries`), the true rest of its line:
  the text after the prefix up to the end of that line, stripped; "" where the prefix ends its
  line, since the stripped prefix no longer shows the line break."""
  pieces = text.split(" ")
  rests, end = [], 0
  for i in range(1, len(pieces)):
    end += len(pieces[i - 1]) + (i > 1)  # == len(" ".join(pieces[:i]))
    ends_line = text[:end].rstrip(" \t").endswith("\n")
    rests.append("" if ends_line else text[end:].split("\n", 1)[0].strip())
  return rests


def is_hit(word: str, suggestions: Sequence[str]) -> bool:
  """The seed's lenient hit: the true next word is a substring of any suggestion."""
  return any(word in s for s in suggestions)


def is_exact_next_word(word: str, suggestions: Sequence[str]) -> bool:
  """Strict: the first whitespace-separated word of the top suggestion is the true next word
  (its first word, for the seed's pieces that hold a line break)."""
  if not suggestions or not word.strip():
    return False
  first = suggestions[0].split()
  return bool(first) and first[0] == word.split()[0]


# Line-comment starts by file extension; C-style block comments where "/*" is listed.
_LINE_COMMENTS = {ext: ("#",) for ext in (".py", ".pyi", ".pyw", ".sh", ".bash", ".rb", ".pl",
                                          ".r", ".R", ".yaml", ".yml", ".toml", ".bzl")}
_LINE_COMMENTS.update({ext: ("//", "/*") for ext in (
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cxx", ".java", ".js", ".jsx", ".ts", ".tsx", ".go",
    ".kt", ".kts", ".scala", ".rs", ".cs", ".swift", ".dart")})
_LINE_COMMENTS[".php"] = ("#", "//", "/*")
_ANY_COMMENT = ("#", "//", "/*")


def leading_comment_end(text: str, ext: str = ".py") -> int:
  """Character offset where the file's leading comment block ends: the lines from the top that
  are blank or comments (shebang, encoding line, licence header). 0 when the file starts with
  code; len(text) when it holds nothing else."""
  starts = _LINE_COMMENTS.get(ext, _ANY_COMMENT)
  offset, in_block = 0, False
  for line in text.split("\n"):
    stripped = line.strip()
    if in_block:
      in_block = "*/" not in stripped
    elif "/*" in starts and stripped.startswith("/*"):
      in_block = "*/" not in stripped[2:]
    elif stripped and not stripped.startswith(tuple(s for s in starts if s != "/*")):
      return offset
    offset += len(line) + 1
  return len(text)


@dataclasses.dataclass(frozen=True)
class Query:
  """One strict replay query: the cursor sits before `word`; `rest_of_line` is what a full-line
  completion there should insert (the line from the word on, without trailing whitespace)."""
  prefix: str
  word: str
  rest_of_line: str
  in_header: bool


def strict_queries(text: str, max_words: Optional[int] = None, ext: str = ".py") -> list[Query]:
  """The strict protocol: words are maximal runs of non-whitespace; a query before each word
  but the first (of the first `max_words`), sending the exact text before it (line breaks and
  indentation included). Whitespace is never a word, so never a target."""
  header_end = leading_comment_end(text, ext)
  queries = []
  for i, match in enumerate(_WORD.finditer(text)):
    if max_words is not None and i >= max_words:
      break
    if i == 0:
      continue
    start = match.start()
    queries.append(Query(text[:start], match.group(), text[start:].split("\n", 1)[0].rstrip(),
                         start < header_end))
  return queries


def strict_scores(pairs: list[tuple[Query, list[str]]]) -> dict:
  """Exact next word (a fraction) and CodeXGLUE full-line EM / edit similarity (0-100)."""
  targets = [q.rest_of_line for q, _ in pairs]
  tops = [s[0] if s else "" for _, s in pairs]
  return {"queries": len(pairs),
          "exact_next_word": sum(is_exact_next_word(q.word, s) for q, s in pairs)
                             / max(len(pairs), 1),
          "full_line_exact_match":
              metrics.codexglue_exact_match(targets, tops)["codexglue_exact_match"],
          "full_line_edit_similarity":
              metrics.codexglue_edit_similarity(targets, tops)["codexglue_edit_similarity"]}


PROTOCOL = ("strict: a query before each word (maximal run of non-whitespace) but the first, "
            "sending the exact text before it; exact_next_word: the top suggestion's first word "
            "is the next word; full_line_*: the top suggestion against the rest of the line, "
            "CodeXGLUE's line-level exact match and edit similarity (0-100); after_header: only "
            "queries after the file's leading comment block; task_cut: one query per file at "
            "the full_line task's cut (the example t5x.eval and t5x.infer score)")
ACCURACY_IS = ("the seed's lenient hit rule, not a headline: the next word is inside any of the "
               "suggestions, over the same queries")
WITH_SUFFIX = ("strict_with_suffix: the strict protocol's queries, each also sending the rest of "
               "the file after the cursor's line as the suffix (fill-in-the-middle models); not "
               "comparable with prefix-only numbers")
SEED_PROTOCOL = ("the seed's whole protocol, for old numbers only: split on single spaces, send "
                 "each growing prefix stripped, a hit when the next piece (empty ones from "
                 "indentation included) is inside any suggestion")


def replay(complete: Callable[..., Sequence[str]], files: Iterable[tuple[str, str]],
           max_words: int = 400, context_chars: int = 16384, seed_protocol: bool = False,
           ext: str = ".py", with_suffix: bool = False) -> dict:
  """Replays (name, text) files against `complete` (text before the cursor -> suggestions, best
  first) and returns the report: strict headline numbers over whole files and after each
  file's leading comment block, the full_line task's cut, and the seed's lenient accuracy
  (with `seed_protocol`, also on the seed's own queries: twice the requests).
  Each request sends at most the last `context_chars` characters before the cursor. With
  `with_suffix`, `complete(prefix, suffix)` also gets the file after the cursor's line (at most
  `context_chars` of it): the fill-in-the-middle variant of the strict protocol."""
  pairs, cut_pairs, per_file = [], [], []
  seed_hits = seed_queries = 0
  for name, text in files:
    cache: dict[tuple, list[str]] = {}

    def ask(prefix: str, text=text) -> list[str]:
      key = (prefix[-context_chars:],)
      if with_suffix:  # the file from the end of the cursor's line on
        end = text.find("\n", len(prefix))
        key += (text[end:][:context_chars] if end >= 0 else "",)
      if key not in cache:
        cache[key] = list(complete(*key))
      return cache[key]

    file_pairs = [(q, ask(q.prefix)) for q in strict_queries(text, max_words, ext)]
    pairs += file_pairs
    example = full_line_cut.example(text)
    if example is not None:
      inputs, target = example
      cut_pairs.append((Query(inputs, target.split()[0], target, False), ask(inputs)))
    report = {"file": name, **strict_scores(file_pairs),
              "header_queries": sum(q.in_header for q, _ in file_pairs),
              "accuracy": sum(is_hit(q.word, s) for q, s in file_pairs) / max(len(file_pairs), 1)}
    if seed_protocol:
      seed_text = " ".join(text.split(" ")[:max_words])
      hits = [is_hit(word, ask(prefix)) for prefix, word in replay_queries(seed_text)]
      seed_hits, seed_queries = seed_hits + sum(hits), seed_queries + len(hits)
      report["seed_protocol_accuracy"] = sum(hits) / max(len(hits), 1)
    per_file.append(report)
  whole = strict_scores(pairs)
  cut = strict_scores(cut_pairs)
  del cut["exact_next_word"]
  out = {"files": len(per_file), "protocol": WITH_SUFFIX if with_suffix else PROTOCOL,
         "queries": whole["queries"],
         "exact_next_word": whole["exact_next_word"], "full_line_queries": whole["queries"],
         "full_line_exact_match": whole["full_line_exact_match"],
         "full_line_edit_similarity": whole["full_line_edit_similarity"],
         "after_header": strict_scores([(q, s) for q, s in pairs if not q.in_header]),
         "task_cut": cut,
         "accuracy": sum(is_hit(q.word, s) for q, s in pairs) / max(len(pairs), 1),
         "accuracy_is": ACCURACY_IS}
  if seed_protocol:
    out.update({"seed_protocol_accuracy": seed_hits / max(seed_queries, 1),
                "seed_protocol_queries": seed_queries, "seed_protocol": SEED_PROTOCOL})
  out["per_file"] = per_file
  return out
