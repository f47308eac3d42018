"""Exports CoNaLa (curated and mined) to normalised JSON lines.

Sources: the Hugging Face dataset `neulab/conala` (configs `curated`, `mined`), or the
original corpus files (conala-train.json, conala-test.json, conala-mined.jsonl, as in the v1.1
zip) in a local folder. Output, under the chosen folder:

  curated_train.jsonl, curated_dev.jsonl    curated train, split by question id (DEV_SPLITS):
                                            the dev part is what training evaluates on
  curated_test.jsonl                        curated test, scored once (the reported split)
  curated_train_full.jsonl                  all of curated train (seed 002's setup)
                                            (each: question_id, intent, rewritten_intent, snippet)
  mined.jsonl                               id, question_id, parent_answer_post_id, intent,
                                            snippet, prob
  mined_codegen.jsonl                       the first N mined pairs (for code generation)
  conala_summary.json                       rows per file, rows without a rewritten intent
"""
import hashlib
import json
import os
from typing import Iterable, Optional

import tqdm

from code_t5 import atomic_files as atomic
from code_t5.corpora import hub
from code_t5.corpora import splits

# The dev split carved from curated train, by a hash of the question id: every answer of a
# question stays on one side, and every export carves the same questions.
DEV_SPLITS = (("train", 0.9), ("dev", 0.1))

CURATED_FIELDS = ("question_id", "intent", "rewritten_intent", "snippet")
MINED_FIELDS = ("id", "question_id", "parent_answer_post_id", "intent", "snippet", "prob")
SUMMARY = "conala_summary.json"
HINT = ("Export it first: code-t5-export-conala --from_disk=<folder with "
        "conala-train.json, conala-test.json, conala-mined.jsonl> (or without it, from the hub).")
ORIGINAL_FILES = {"curated_train": "conala-train.json", "curated_test": "conala-test.json",
                  "mined": "conala-mined.jsonl"}


def output_path(out_dir: str, name: str) -> str:
  return os.path.join(out_dir, f"{name}.jsonl")



def _read_original(folder: str) -> dict:
  """{name: iterable of rows} from the corpus files; errors name the file and the line."""
  paths = {name: os.path.join(folder, f) for name, f in ORIGINAL_FILES.items()}
  missing = [p for p in paths.values() if not os.path.exists(p)]
  if missing:
    raise FileNotFoundError(f"--from_disk={folder}: missing {', '.join(missing)} (the CoNaLa "
                            "corpus zip holds conala-train.json, conala-test.json and "
                            "conala-mined.jsonl).")
  rows = {}
  for name in ("curated_train", "curated_test"):
    try:
      with open(paths[name], encoding="utf-8") as f:
        rows[name] = json.load(f)
    except ValueError as e:
      raise ValueError(f"{paths[name]}: not a JSON array of CoNaLa examples ({e}).") from None

  def mined():
    with open(paths["mined"], encoding="utf-8") as f:
      for number, line in enumerate(f, 1):
        try:
          yield json.loads(line)
        except ValueError as e:
          raise ValueError(f"{paths['mined']}:{number}: malformed JSON line ({e}).") from None

  rows["mined"] = mined()
  return rows


def _read_hub() -> dict:
  curated = hub.load_dataset("neulab/conala", "curated")
  mined = hub.load_dataset("neulab/conala", "mined")
  return {"curated_train": curated["train"], "curated_test": curated["test"],
          "mined": mined["train"]}


def _normalise(row: dict, fields: tuple[str, ...], where: str) -> dict:
  missing = [k for k in fields if k not in row and k not in ("prob", "parent_answer_post_id")]
  if missing:
    raise ValueError(f"{where}: row without {missing}; is this a CoNaLa file?")
  return {k: row.get(k) for k in fields}


def carve_dev(rows: list[dict]) -> tuple[list[dict], list[dict]]:
  """(train, dev) of curated train, by the hash of each row's question id (DEV_SPLITS). Where no
  question falls in dev (a corpus of a few questions), the question of the lowest hash does."""
  side = {q: splits.split_of(str(q), DEV_SPLITS) for q in {r["question_id"] for r in rows}}
  if len(side) > 1 and "dev" not in side.values():
    side[min(side, key=lambda q: hashlib.sha256(str(q).encode("utf-8")).hexdigest())] = "dev"
  return ([r for r in rows if side[r["question_id"]] == "train"],
          [r for r in rows if side[r["question_id"]] == "dev"])


def _write(path: str, rows: Iterable[dict], desc: str, total: Optional[int] = None,
           shards: int = 1) -> int:
  return atomic.write_jsonl(path, tqdm.tqdm(rows, desc=desc, unit="row", total=total), shards)


def export(out_dir: str, from_disk: Optional[str] = None, mined_for_codegen: int = 100000,
           shards: int = atomic.EXPORT_SHARDS) -> dict:
  """Writes the files above, each in `shards` files (<name>.jsonl-0000i-of-0000N); returns the
  summary (also written as conala_summary.json)."""
  source = _read_original(from_disk) if from_disk else _read_hub()
  os.makedirs(out_dir, exist_ok=True)
  summary = {"source": from_disk or "huggingface hub: neulab/conala", "shards": shards,
             "files": {},
             "without_rewritten_intent": {}}
  curated = {name: [_normalise(r, CURATED_FIELDS, f"{name} row {i}")
                    for i, r in enumerate(source[name])]
             for name in ("curated_train", "curated_test")}
  curated["curated_train_full"] = curated["curated_train"]
  curated["curated_train"], curated["curated_dev"] = carve_dev(curated["curated_train_full"])
  for name in ("curated_train", "curated_dev", "curated_test", "curated_train_full"):
    rows = curated[name]
    summary["files"][name] = _write(output_path(out_dir, name), rows, name, len(rows), shards)
    # Excluded from conala_rewrite_intent (and counted here, not dropped silently).
    summary["without_rewritten_intent"][name] = sum(
        not (r["rewritten_intent"] or "").strip() for r in rows)

  codegen_path = output_path(out_dir, "mined_codegen")
  codegen = []

  def mined_rows():
    for i, row in enumerate(source["mined"]):
      row = _normalise(row, MINED_FIELDS, f"mined row {i}")
      if len(codegen) < mined_for_codegen:
        codegen.append({"intent": row["intent"], "snippet": row["snippet"]})
      yield row

  summary["files"]["mined"] = _write(output_path(out_dir, "mined"), mined_rows(), "mined",
                                     shards=shards)
  summary["files"]["mined_codegen"] = _write(codegen_path, codegen, "mined for code generation",
                                             shards=shards)
  atomic.write_json(os.path.join(out_dir, SUMMARY), summary, indent=1)
  return summary
