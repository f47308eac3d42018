"""Trainer glue: what T5X and the Mesh TF trainer need from code_t5 besides tasks."""
