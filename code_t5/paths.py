"""Where prepared data lives, resolved each time it is needed (never at import)."""
import os
from typing import Optional

import gin

ENV_VAR = "CODE_T5_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join("~", ".cache", "code_t5")


@gin.configurable
def data_dir(root: Optional[str] = None) -> str:
  """$CODE_T5_DATA_DIR if set, else the gin-bound `root`, else ~/.cache/code_t5."""
  return os.path.expanduser(os.environ.get(ENV_VAR) or root or DEFAULT_DATA_DIR)


def flcc_dir(dev: bool = False) -> str:
  """Prepared FLCC shards (`flcc/`) or the prepared dev dataset (`flcc_dev/`)."""
  return os.path.join(data_dir(), "flcc_dev" if dev else "flcc")


def dev_source_dir() -> str:
  """The FLCC-layout tree that code-t5-make-dev-dataset builds by default."""
  return os.path.join(data_dir(), "flcc_dev_source")


def wikitext_dir() -> str:
  """Wikitext JSON lines written by code-t5-export-wikitext."""
  return os.path.join(data_dir(), "wikitext")


def conala_dir() -> str:
  """CoNaLa JSON lines written by code-t5-export-conala."""
  return os.path.join(data_dir(), "conala")


def codesearchnet_dir() -> str:
  """CodeSearchNet JSON lines (one folder per language) written by
  code-t5-export-codesearchnet."""
  return os.path.join(data_dir(), "codesearchnet")


def vocab_model_path() -> str:
  """The code SentencePiece model written by code-t5-train-vocab."""
  return os.path.join(data_dir(), "vocab", "code_spm.model")
