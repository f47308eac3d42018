"""Trains the GPT-style autocomplete model: see code_t5/train/launcher.py for the settings.

  RESTORE_FROM=latest LEARNING_RATE=1e-3 SAVE_EVERY=500 VAL_EVERY=500 VAL_BATCH=10 \
    python scripts/train_lm.py --model_dir=/tmp/lm
"""
import sys

from code_t5.train import launcher

if __name__ == "__main__":
  sys.exit(launcher.main())
