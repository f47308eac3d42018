"""`wikitext_span_corruption[_spm]`: T5 span corruption over exported wikitext JSON lines."""
import functools
import seqio

from code_t5 import paths
from code_t5 import sources
from code_t5 import vocabularies
from code_t5.corpora import wikitext
from code_t5.t5_compat import t5_preprocessors


def kept_rows(split: str):
  """Rows kept by the export, from its summary (None before any export)."""
  try:
    return wikitext.read_summary(paths.wikitext_dir())["splits"][split]["kept"]
  except FileNotFoundError:
    return None


SOURCE = sources.JsonLinesSource(
    path_fn=lambda split: wikitext.split_path(paths.wikitext_dir(), split), fields=("text",),
    count_fn=kept_rows, missing_hint="Export it first: python scripts/export_wikitext.py "
    "(--from_disk=DIR for local files), or set $CODE_T5_DATA_DIR.")

for suffix, vocab in vocabularies.BY_SUFFIX.items():
  seqio.TaskRegistry.add(
      f"wikitext_span_corruption{suffix}",
      source=SOURCE,
      preprocessors=[
          functools.partial(seqio.preprocessors.rekey,
                            key_map={"inputs": None, "targets": "text"}),
          seqio.preprocessors.tokenize,
          seqio.CacheDatasetPlaceholder(),
          t5_preprocessors.span_corruption,
          seqio.preprocessors.append_eos_after_trim,
      ],
      # Both features, one vocabulary: T5X's encoder-decoder feature converter needs inputs.
      output_features={"inputs": seqio.Feature(vocab, add_eos=True, required=False),
                       "targets": seqio.Feature(vocab, add_eos=True)},
      metric_fns=[])
