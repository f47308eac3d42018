"""CodeSearchNet rows in the upstream (Hugging Face code_search_net) schema."""
import gzip
import json
import os
import re

# (func_name, docstring, body): python train rows, each on one obvious topic.
PYTHON_TRAIN = [
    ("read_json", "Read a JSON file and return the parsed object.",
     "with open(path) as f:\n        return json.load(f)"),
    ("write_lines", "Write each line to a text file.",
     "with open(path, 'w') as f:\n        f.writelines(line + '\\n' for line in lines)"),
    ("mean", "Compute the arithmetic mean of a list of numbers.",
     "return sum(numbers) / len(numbers)"),
    ("is_palindrome", "Check whether text is a palindrome.", "return text == text[::-1]"),
    ("http_get", "Download a URL and return the response body.",
     "return urllib.request.urlopen(url).read()"),
    ("flatten", "Flatten a nested list into one list.",
     "return [x for sub in nested for x in sub]"),
    ("count_words", "Count how often each word occurs in a text.",
     "return collections.Counter(text.split())"),
    ("parse_date", "Parse an ISO date string into a date object.",
     "return datetime.date.fromisoformat(text)"),
]
PYTHON_VALID = [("clamp", "Clamp a value between a lower and an upper bound.",
                 "return max(lower, min(value, upper))")]
PYTHON_TEST = [("slugify", "Turn a title into a URL slug.",
                "return re.sub(r'\\W+', '-', title.lower()).strip('-')"),
               ("chunks", "Split a list into chunks of a given size.",
                "return [items[i:i + size] for i in range(0, len(items), size)]")]
ARGS = {"read_json": "path", "write_lines": "path, lines", "mean": "numbers",
        "is_palindrome": "text", "http_get": "url", "flatten": "nested", "count_words": "text",
        "parse_date": "text", "clamp": "value, lower, upper", "slugify": "title",
        "chunks": "items, size"}
JAVA = [("train", "Utils.max", "Returns the larger of two integers.",
         "public static int max(int a, int b) { return a > b ? a : b; }"),
        ("valid", "Utils.min", "Returns the smaller of two integers.",
         "public static int min(int a, int b) { return a < b ? a : b; }"),
        ("test", "Utils.abs", "Returns the absolute value.",
         "public static int abs(int a) { return a < 0 ? -a : a; }")]
EXTENSIONS = {"python": "py", "java": "java"}


def tokens(text: str) -> list[str]:
  return re.findall(r"\w+|[^\s\w]", text)


def row(language: str, split_name: str, func_name: str, docstring: str, code: str,
        code_tokens: list[str], line: int = 10) -> dict:
  repo = f"octo/{language}-utils"
  path = f"src/utils.{EXTENSIONS[language]}"
  return {"repository_name": repo, "func_path_in_repository": path, "func_name": func_name,
          "whole_func_string": code, "language": language, "func_code_string": code,
          "func_code_tokens": code_tokens, "func_documentation_string": docstring,
          "func_documentation_tokens": tokens(docstring.split("\n\n")[0]),
          "split_name": split_name,
          "func_code_url": f"https://github.com/{repo}/blob/0a1b2c3d/{path}#L{line}-L{line + 3}"}


def python_row(split_name: str, func_name: str, docstring: str, body: str) -> dict:
  # Upstream code strings keep the docstring; the code tokens leave it out.
  code = f'def {func_name}({ARGS[func_name]}):\n    """{docstring}"""\n    {body}'
  return row("python", split_name, func_name, docstring, code,
             tokens(f"def {func_name}({ARGS[func_name]}):\n    {body}"))


def python_rows() -> list[dict]:
  rows = [python_row(split, *f) for split, fs in
          (("train", PYTHON_TRAIN), ("valid", PYTHON_VALID), ("test", PYTHON_TEST)) for f in fs]
  # Counted skips: no docstring tokens; no code.
  rows.insert(3, row("python", "train", "undocumented", "", "def undocumented():\n    pass",
                     ["def", "undocumented", "(", ")", ":", "pass"]))
  rows.insert(5, row("python", "train", "empty", "An empty function.", "", []))
  return rows


def java_rows() -> list[dict]:
  return [row("java", split, name, doc, code, tokens(code), line=20 + i)
          for i, (split, name, doc, code) in enumerate(JAVA)]


def write_corpus(folder: str) -> str:
  """python.jsonl (plain) and java.jsonl.gz, as Dataset.to_json would write them."""
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "python.jsonl"), "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in python_rows()))
  with gzip.open(os.path.join(folder, "java.jsonl.gz"), "wt") as f:
    f.write("".join(json.dumps(r) + "\n" for r in java_rows()))
  return folder



def write_python_train_corpus(folder: str, copies: int) -> str:
  """python.jsonl with `copies` distinct variants of each Python row (renamed, the docstring
  numbered): for runs that take several batches of distinct examples."""
  os.makedirs(folder, exist_ok=True)
  rows = []
  for split, functions in (("train", PYTHON_TRAIN), ("valid", PYTHON_VALID), ("test", PYTHON_TEST)):
    for copy in range(copies):
      for name, doc, body in functions:
        variant = f"{name}_v{copy}"
        code = f'def {variant}({ARGS[name]}):\n    """{doc}"""\n    {body}'
        rows.append(row("python", split, variant, f"{doc} Variant {copy}.", code,
                        tokens(f"def {variant}({ARGS[name]}):\n    {body}")))
  with open(os.path.join(folder, "python.jsonl"), "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
  return folder
