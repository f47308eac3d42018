import glob
import os

import pytest
import seqio
import tensorflow as tf

import flcc_fixtures
from code_t5.data import vocabularies

SAMPLES = [
    "def f(x):\n\tif x:\t# tab\n\t\treturn 'é✓'   \n\n\n    return None\r\n",
    "  leading spaces\ntrailing spaces   \n\n\n",
    "# 日本語のコメント\nπ = 3.14159\nemoji = '🙂'\n",
    "\n", "\t", "",
]


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory):
  lines = [line for i in range(200) for line in flcc_fixtures.python_file(i).splitlines()
           if line.strip()]
  path = str(tmp_path_factory.mktemp("vocab") / "code_spm.model")
  return vocabularies.train_sentencepiece(lines, path, vocab_size=512)


def test_vocab_size_must_be_a_multiple_of_128(tmp_path):
  with pytest.raises(ValueError, match="multiple of 128"):
    vocabularies.train_sentencepiece(["x"], str(tmp_path / "m"), vocab_size=500)


def test_code_sentencepiece_round_trips_exactly_in_python_and_tf(spm_path):
  vocab = vocabularies.CodeSentencePieceVocabulary(spm_path)
  assert vocab.vocab_size == 512 and vocab.vocab_size % 128 == 0
  assert vocab.eos_id == 1 and vocab.pad_id == 0
  # Our test files as code samples, but for those quoting sentinels ("<extra_id_0>"), which
  # are tokens of their own in every seqio SentencePiece vocabulary by design.
  texts = SAMPLES + [text for p in sorted(glob.glob(os.path.join(os.path.dirname(__file__),
                                                                  "*.py")))
                     if "<extra_id_" not in (text := open(p, encoding="utf-8").read())]
  for text in texts:
    ids = vocab.encode(text)
    assert max(ids, default=0) < vocab.vocab_size - vocabularies.EXTRA_IDS
    assert vocab.decode(ids) == text
    assert vocab.decode_tf(vocab.encode_tf(tf.constant(text))).numpy().decode() == text


def test_lazy_model_path_comes_from_the_data_dir(spm_path, tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  vocab = vocabularies.CodeSentencePieceVocabulary()
  with pytest.raises(FileNotFoundError, match="code-t5-train-vocab"):
    vocab.encode("x")
  os.makedirs(tmp_path / "vocab")
  os.link(spm_path, tmp_path / "vocab" / "code_spm.model")
  assert vocab.decode(vocab.encode(SAMPLES[0])) == SAMPLES[0]
  assert vocab == vocabularies.CodeSentencePieceVocabulary(str(tmp_path / "vocab" /
                                                               "code_spm.model"))


def test_byte_vocabulary_round_trips_and_has_sentinels():
  vocab = vocabularies.BYTE
  assert vocab.vocab_size == 359 <= vocabularies.BYTE_VOCAB_MODEL_SIZE
  for text in SAMPLES:
    assert vocab.decode(vocab.encode(text)) == text
  assert isinstance(vocab, seqio.ByteVocabulary)
