from code_t5 import tasks  # noqa: F401  (registers the tasks shown)
from code_t5.data import inspect_task as show
from code_t5.data import vocabularies


def test_decode_shows_sentinels_in_t5_order():
  vocab = vocabularies.BYTE
  ids = vocab.encode("ab") + [vocab.vocab_size - 1] + vocab.encode("c") + [vocab.vocab_size - 2]
  assert show.decode(vocab, ids) == "ab<extra_id_0>c<extra_id_1>"


def test_examples_and_token_counts_of_a_prepared_task(use_data_dir):
  (ex,) = show.examples("flcc_python_span_corruption", split="train", num=1)
  assert "<extra_id_0>" in ex["inputs"] and ex["targets"].startswith("<extra_id_0>")
  counts = show.count_tokens("flcc_python_lm", split="train")
  assert counts["examples"] > 0 and counts["targets"] >= counts["examples"]
