"""The public T5 vocabulary, with a small local SentencePiece model standing in for
cc_all.32000.100extra: built here the way that file is laid out (the pieces, then the 100
sentinels `<extra_id_99>` ... `<extra_id_0>` as the last ids)."""
import gin
import pytest
import seqio

from code_t5 import errors  # noqa: E402
from code_t5.data import t5_vocabulary
from code_t5.train import checkpoint_checks

PIECES = 200
TEXT = ["def add(a, b):", "    return a + b", "The quick brown fox jumps over the lazy dog."] * 50


def _train(path: str, with_sentinels: bool) -> str:
  import io
  import sentencepiece as spm
  from sentencepiece import sentencepiece_model_pb2
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT), model_writer=model,
                                 vocab_size=PIECES, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                 hard_vocab_limit=False, minloglevel=2)
  proto = sentencepiece_model_pb2.ModelProto.FromString(model.getvalue())
  if with_sentinels:
    for i in reversed(range(t5_vocabulary.SENTINELS)):
      proto.pieces.add(piece=f"<extra_id_{i}>", score=0.0,
                       type=sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED)
  with open(path, "wb") as f:
    f.write(proto.SerializeToString())
  return path


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
  root = tmp_path_factory.mktemp("t5_spm")
  return (_train(str(root / "cc_all.32000.100extra.model"), True),
          _train(str(root / "cc_all.32000.model"), False))


def test_path_is_public_by_default_then_gin_then_environment(monkeypatch, tmp_path):
  monkeypatch.delenv(t5_vocabulary.ENV_VAR, raising=False)
  gin.clear_config()
  assert t5_vocabulary.public_t5_spm_path() == t5_vocabulary.PUBLIC_PATH
  assert t5_vocabulary.PUBLIC_PATH.startswith("gs://t5-data/vocabs/cc_all.32000.100extra/")
  try:
    gin.bind_parameter("public_t5_spm_path.path", str(tmp_path / "gin.model"))
    assert t5_vocabulary.public_t5_spm_path() == str(tmp_path / "gin.model")
    monkeypatch.setenv(t5_vocabulary.ENV_VAR, str(tmp_path / "env.model"))
    assert t5_vocabulary.public_t5_spm_path() == str(tmp_path / "env.model")
  finally:
    gin.clear_config()


def test_offline_copy_gives_the_sentinels_span_corruption_writes(monkeypatch, standins):
  with_sentinels, _ = standins
  monkeypatch.setenv(t5_vocabulary.ENV_VAR, with_sentinels)
  vocab = t5_vocabulary.PublicT5Vocabulary()
  size = vocab.vocab_size
  assert size == vocab.tokenizer.get_piece_size() and size > t5_vocabulary.SENTINELS
  assert vocab.sentencepiece_model_file == with_sentinels
  # seqio's span corruption writes sentinel i as vocab_size - 1 - i.
  for i in (0, 1, 99):
    assert vocab.tokenizer.id_to_piece(size - 1 - i) == f"<extra_id_{i}>"
  ids = vocab.encode("def add(a, b):")
  assert ids and max(ids) < size - t5_vocabulary.SENTINELS
  assert vocab.decode(ids) == "def add(a, b):"
  assert (vocab.pad_id, vocab.eos_id) == (0, 1)


def test_old_file_needs_extra_ids_and_says_so(standins):
  _, without = standins
  assert t5_vocabulary.PublicT5Vocabulary(without, extra_ids=100).vocab_size == (
      t5_vocabulary.PublicT5Vocabulary(standins[0]).vocab_size)
  with pytest.raises(ValueError, match=r"cc_all.32000.model: id \d+ is .* not <extra_id_0>; "
                     r".*cc_all.32000 with extra_ids=100"):
    _ = t5_vocabulary.PublicT5Vocabulary(without).vocab_size
  with pytest.raises(ValueError, match="extra_ids=200"):
    _ = t5_vocabulary.PublicT5Vocabulary(without, extra_ids=200).vocab_size


def test_missing_offline_copy_names_the_file_and_the_variable(monkeypatch, tmp_path):
  monkeypatch.setenv(t5_vocabulary.ENV_VAR, str(tmp_path / "nope.model"))
  with pytest.raises(FileNotFoundError, match=rf"nope.model: .*{t5_vocabulary.ENV_VAR}"):
    _ = t5_vocabulary.PublicT5Vocabulary().vocab_size


def test_embedding_smaller_than_the_vocabulary_fails_naming_both(standins):
  vocab = t5_vocabulary.PublicT5Vocabulary(standins[0])
  assert checkpoint_checks.checked_vocab_size(vocab, 384) == 384
  small = vocab.vocab_size - 1
  with pytest.raises(errors.UsageError, match=rf"vocabulary {standins[0]} has {vocab.vocab_size} ids "
                     rf"but the model's embedding has {small} rows"):
    checkpoint_checks.checked_vocab_size(vocab, small)
  # The same check for any seqio vocabulary, e.g. the byte one against a T5 checkpoint size.
  assert checkpoint_checks.mismatch(seqio.ByteVocabulary(extra_ids=100), 256) is not None


@pytest.mark.parametrize("suffix", ["_t5", "_hf"])
def test_every_task_family_and_mixture_has_the_t5_and_hf_variants(suffix):
  import code_t5.mixtures  # noqa: F401  (registers tasks and mixtures)
  from code_t5.data import hf_vocabulary, vocabularies
  vocab = vocabularies.get_vocabulary(suffix[1:])
  if suffix == "_t5":
    assert vocab is t5_vocabulary.PUBLIC_T5
    assert vocabularies.model_vocab_size("t5") == t5_vocabulary.EMBEDDING_SIZE == 32128
  else:  # its folder is read when first used, not here
    assert isinstance(vocab, hf_vocabulary.HuggingFaceVocabulary) and vocab._path is None
  tasks = set(seqio.TaskRegistry.names())
  spm = {n[:-len("_spm")] for n in tasks if n.endswith("_spm")}
  assert spm and {n[:-len(suffix)] for n in tasks if n.endswith(suffix)} == spm
  for base in ("flcc_python_span_corruption", "flcc_dev_python_full_line", "flcc_java_lm",
               "wikitext_span_corruption", "conala_rewrite_intent", "conala_code_generation",
               "csn_python_query_code", "csn_go_docstring_to_code"):
    features = seqio.get_mixture_or_task(base + suffix).output_features
    assert all(f.vocabulary is vocab for f in features.values()), base
  mixtures = set(seqio.MixtureRegistry.names())
  spm_mixtures = {n[:-len("_spm")] for n in mixtures if n.endswith("_spm")}
  assert {"code_and_text_span_corruption", "flcc_all_span_corruption", "csn_all_query_code",
          "conala_code_generation_with_mined"} <= spm_mixtures
  assert {n[:-len(suffix)] for n in mixtures if n.endswith(suffix)} == spm_mixtures
