"""The `_hf` tasks' vocabulary: the tokenizer folder named by $CODE_T5_HF_TOKENIZER or gin, read
when first used (never at import), and span corruption only where the tokenizer has T5's
sentinels at the ids seqio writes. Tokenizers are byte-level BPEs like CodeT5's, built here."""
import os
import subprocess
import sys

import gin
import pytest
import seqio

pytest.importorskip("transformers", reason="transformers is not installed")

from code_t5 import mixtures  # noqa: E402,F401  (registers tasks and mixtures)
from code_t5.data import hf_vocabulary, vocabularies  # noqa: E402
from conftest import REPO_ROOT  # noqa: E402

ENV = hf_vocabulary.ENV_VAR
TEXT = "def add(a, b):\n    return a + b\n\n\nclass Point:\n\tpass\n" * 3
SENTINELS = 100


def _tokenizer(path: str, sentinels: str) -> str:
  """A CodeT5-like tokenizer; `sentinels`: 'none', 't5' (<extra_id_0> the last id, counting
  down, as T5's tokenizers) or 'ascending' (<extra_id_0> first)."""
  from tokenizers import ByteLevelBPETokenizer
  from transformers import PreTrainedTokenizerFast
  bpe = ByteLevelBPETokenizer()
  bpe.train_from_iterator([TEXT], vocab_size=300, min_frequency=1,
                          special_tokens=["<pad>", "<s>", "</s>", "<unk>", "<mask>"])
  tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>",
                                      bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                      mask_token="<mask>")
  order = {"none": [], "t5": range(SENTINELS - 1, -1, -1), "ascending": range(SENTINELS)}
  if order[sentinels]:
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [f"<extra_id_{i}>" for i in order[sentinels]]})
  tokenizer.save_pretrained(path)
  return path


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
  root = tmp_path_factory.mktemp("tokenizers")
  return {kind: _tokenizer(str(root / kind), kind) for kind in ("none", "t5", "ascending")}


@pytest.fixture(autouse=True)
def clean(monkeypatch):
  monkeypatch.delenv(ENV, raising=False)
  gin.clear_config()
  yield
  gin.clear_config()


def test_folder_from_the_environment_or_gin_and_both_only_when_the_same(monkeypatch, tmp_path):
  a, b = str(tmp_path / "a"), str(tmp_path / "b")
  with pytest.raises(ValueError, match=rf"^the `_hf` tasks need .*: set {ENV} to "):
    hf_vocabulary.configured_tokenizer_dir()
  monkeypatch.setenv(ENV, a)
  assert hf_vocabulary.configured_tokenizer_dir() == a
  monkeypatch.delenv(ENV)
  gin.bind_parameter("hf_tokenizer_dir.path", b)
  assert hf_vocabulary.configured_tokenizer_dir() == b
  monkeypatch.setenv(ENV, b + "/")
  assert hf_vocabulary.configured_tokenizer_dir() == b
  monkeypatch.setenv(ENV, a)
  with pytest.raises(ValueError, match=rf"^{ENV}={a} but gin binds hf_tokenizer_dir.path = {b}"):
    hf_vocabulary.configured_tokenizer_dir()


def test_converted_model_gin_names_the_tasks_folder_too(tmp_path):
  pytest.importorskip("t5x", reason="the T5X extra is not installed")
  gin.parse_config_files_and_bindings(
      ["code_t5/gin_configs/t5x/models/hf_t5_1_0.gin"],
      [f"HF_TOKENIZER_DIR = '{tmp_path}'", "EMBEDDING_SIZE = 384"])
  assert hf_vocabulary.configured_tokenizer_dir() == str(tmp_path)


def test_task_vocabulary_follows_the_setting_of_the_run(monkeypatch, tokenizers):
  task = seqio.get_mixture_or_task("conala_rewrite_intent_hf")
  vocab = task.output_features["targets"].vocabulary
  assert vocab is vocabularies.HF
  monkeypatch.setenv(ENV, tokenizers["none"])
  ids = vocab.encode("def add(a, b):")
  assert ids and vocab.decode(ids) == "def add(a, b):"
  base = vocab.vocab_size
  assert base == len(vocab.tokenizer) > 256 and (vocab.pad_id, vocab.eos_id) == (0, 2)
  # What T5X checks before training: the task's vocabulary is the model's (same folder).
  assert vocab == hf_vocabulary.HuggingFaceVocabulary(tokenizers["none"])
  assert vocab != hf_vocabulary.HuggingFaceVocabulary(tokenizers["t5"])
  monkeypatch.setenv(ENV, tokenizers["t5"])
  assert vocab.vocab_size == base + SENTINELS  # the next use reads the new folder
  # Pickled (seqio's cache jobs), it keeps the folder it was resolved to.
  import pickle
  copy = pickle.loads(pickle.dumps(vocab))
  monkeypatch.delenv(ENV)
  assert copy.path == tokenizers["t5"] and copy.vocab_size == base + SENTINELS


def test_import_loads_no_transformers_and_an_unset_folder_fails_in_one_line():
  code = ("import sys, seqio, code_t5.mixtures\n"
          "print('transformers' in sys.modules)\n"
          "task = seqio.get_mixture_or_task('flcc_dev_python_lm_hf')\n"
          "try:\n"
          "  task.output_features['targets'].vocabulary.vocab_size\n"
          "except ValueError as e:\n"
          "  print(e)\n")
  env = {k: v for k, v in os.environ.items() if k != ENV}
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  loaded, message = result.stdout.strip().split("\n")
  assert loaded == "False"
  assert message.startswith(f"the `_hf` tasks need a Hugging Face tokenizer folder: set {ENV} ")
  assert "code-t5-convert-hf-t5" in message


def test_span_corruption_writes_the_tokenizers_own_sentinels(monkeypatch, use_data_dir,
                                                              tokenizers):
  monkeypatch.setenv(ENV, tokenizers["t5"])
  vocab = vocabularies.HF
  assert vocab.sentinel_problem() is None
  task = seqio.get_mixture_or_task("flcc_dev_python_span_corruption_hf")
  ex = next(iter(task.get_dataset({"inputs": 128, "targets": 32}, split="train",
                                  shuffle=False, seed=0)))
  inputs, targets = ex["inputs"].numpy().tolist(), ex["targets"].numpy().tolist()
  first = vocab.tokenizer.convert_tokens_to_ids("<extra_id_0>")
  assert first == vocab.vocab_size - 1 and first in inputs and targets[0] == first
  base = vocab.vocab_size - SENTINELS
  sentinels = [vocab.tokenizer.convert_ids_to_tokens(i) for i in targets if i >= base]
  assert sentinels == [f"<extra_id_{i}>" for i in range(len(sentinels))], sentinels


@pytest.mark.parametrize("kind,needle", [
    ("none", r"has no sentinel tokens \(<extra_id_0>, ...\) for span corruption"),
    ("ascending", r"<extra_id_0> is id {first}, but span corruption writes sentinel 0 as id "
                  r"{last} "),
])
def test_span_corruption_refuses_a_tokenizer_without_them_in_place(monkeypatch, use_data_dir,
                                                                   tokenizers, kind, needle):
  base = hf_vocabulary.HuggingFaceVocabulary(tokenizers["none"]).vocab_size
  needle = needle.format(first=base, last=base + SENTINELS - 1)
  monkeypatch.setenv(ENV, tokenizers[kind])
  task = seqio.get_mixture_or_task("flcc_dev_python_span_corruption_hf")
  with pytest.raises(ValueError, match=rf"^span corruption \('(inputs|targets)'\): "
                     rf"{tokenizers[kind]}: .*{needle}"):
    task.get_dataset({"inputs": 128, "targets": 32}, split="train", shuffle=False)
  # Tasks without span corruption take the same tokenizer.
  lm = seqio.get_mixture_or_task("flcc_dev_python_lm_hf")
  assert next(iter(lm.get_dataset({"targets": 64}, split="train", shuffle=False)))
