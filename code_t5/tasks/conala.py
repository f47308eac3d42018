"""CoNaLa tasks over the exported JSON lines (scripts/export_conala.py):

- `conala_rewrite_intent`: intent + "\\n" + snippet -> rewritten_intent (curated train; curated
  test as validation); rows without a rewritten intent are left out (the export counts them);
  its metrics put the model beside model-free baselines on the same examples
  (code_t5.conala_baselines: copy the intent, copy the snippet, intent + quoted literals);
- `conala_mined_rewrite_intent`: the same inputs over conala-mined, targets empty, `id` and
  `question_id` kept, for inference (split `train`);
- `conala_code_generation`: rewritten_intent (else intent) -> snippet, official CoNaLa BLEU;
- `conala_mined_code_generation`: the first N mined pairs (export's --mined_for_codegen), and the
  mixture `conala_code_generation_with_mined` of both, rated by example count.
"""
import seqio

from code_t5 import conala_baselines
from code_t5 import metrics
from code_t5 import paths
from code_t5 import preprocessors
from code_t5 import sources
from code_t5 import vocabularies
from code_t5.corpora import conala

HINT = ("Export it first: python scripts/export_conala.py --from_disk=<folder with "
        "conala-train.json, conala-test.json, conala-mined.jsonl> (or without it, from the hub).")
CURATED_FILE = {"train": "curated_train", "validation": "curated_test"}


def exported_rows(name: str):
  """Rows of an exported file, from the export summary (None before any export)."""
  try:
    return conala.read_summary(paths.conala_dir())["files"][name]
  except FileNotFoundError:
    return None


def _source(split_to_name: dict, fields) -> sources.JsonLinesSource:
  return sources.JsonLinesSource(
      path_fn=lambda split: conala.output_path(paths.conala_dir(), split_to_name[split]),
      fields=fields, count_fn=lambda split: exported_rows(split_to_name[split]),
      missing_hint=HINT,
      splits=tuple(split_to_name))


CURATED = _source(CURATED_FILE, conala.CURATED_FIELDS)
MINED = _source({"train": "mined"}, conala.MINED_FIELDS)
MINED_CODEGEN = _source({"train": "mined_codegen"}, ("intent", "snippet"))


def _features(vocab):
  return {"inputs": seqio.Feature(vocab, add_eos=True),
          "targets": seqio.Feature(vocab, add_eos=True)}


TOKENIZE = [seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
            seqio.preprocessors.append_eos_after_trim]

for suffix, vocab in vocabularies.BY_SUFFIX.items():
  seqio.TaskRegistry.add(
      f"conala_rewrite_intent{suffix}", source=CURATED, output_features=_features(vocab),
      preprocessors=[preprocessors.conala_rewrite_intent, preprocessors.drop_empty_targets,
                     *TOKENIZE],
      postprocess_fn=conala_baselines.with_inputs,
      metric_fns=[conala_baselines.conala_bleu_with_baselines])
  seqio.TaskRegistry.add(
      f"conala_mined_rewrite_intent{suffix}", source=MINED, output_features=_features(vocab),
      preprocessors=[preprocessors.conala_rewrite_intent, *TOKENIZE], metric_fns=[])
  seqio.TaskRegistry.add(
      f"conala_code_generation{suffix}", source=CURATED, output_features=_features(vocab),
      preprocessors=[preprocessors.conala_code_generation, *TOKENIZE],
      metric_fns=[metrics.conala_bleu])
  seqio.TaskRegistry.add(
      f"conala_mined_code_generation{suffix}", source=MINED_CODEGEN,
      output_features=_features(vocab),
      preprocessors=[preprocessors.conala_code_generation, *TOKENIZE], metric_fns=[])
  seqio.MixtureRegistry.add(
      f"conala_code_generation_with_mined{suffix}",
      [f"conala_code_generation{suffix}", f"conala_mined_code_generation{suffix}"],
      default_rate=seqio.mixing_rate_num_examples)
