"""Trains the GPT-style autocomplete model: see code_t5/launcher.py for the settings.

  RESTORE_FROM=latest LEARNING_RATE=1e-3 SAVE_EVERY=500 VAL_EVERY=500 VAL_BATCH=10 \
    python scripts/train_lm.py --model_dir=/tmp/lm
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from code_t5 import launcher  # noqa: E402

if __name__ == "__main__":
  sys.exit(launcher.main())
