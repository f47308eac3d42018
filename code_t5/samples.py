"""Small offline stand-ins in the exact upstream formats, for trying a walkthrough without the
network: a CoNaLa corpus (conala-corpus v1.1 files) and a random tiny Hugging Face T5 checkpoint
(what `save_pretrained` writes). Real data comes from the hub or JetBrains; these are for
learning the commands, not for numbers."""
import json
import os

# (intent, rewritten intent or None, snippet, question id): CoNaLa-style pairs written here. The
# first 8 are curated train; the dev carve of so few must find rewritten intents to evaluate on.
_CURATED = [
    ("How do I reverse a list in Python?", "reverse list `items` in place", "items.reverse()",
     3940128),
    ("get the length of a string", "get the number of characters in string `s`", "len(s)",
     4967580),
    ("convert a string to lower case", "convert string `name` to lower case", "name.lower()",
     6797984),
    ("join list of strings with comma", "join the strings of list `words` with ', '",
     "', '.join(words)", 12453580),
    ("check if a key exists in a dictionary", "check if key 'a' is in dictionary `d`",
     "'a' in d", 1602934),
    ("sort a dictionary by its values", "sort dictionary `d` by value in ascending order",
     "sorted(d.items(), key=lambda kv: kv[1])", 613183),
    ("get current time", "get the current date and time", "datetime.datetime.now()", 415511),
    ("remove duplicates from a list", "remove duplicate elements from list `x`",
     "list(set(x))", 7961363),
    ("parse json string", "load JSON string `s` into a Python object", "json.loads(s)",
     7771011),
    ("read a text file line by line", None,
     "with open('f.txt') as f:\n    lines = f.readlines()", 3277503),
]
_MINED_INTENTS = ["How to split a string by whitespace", "flatten a list of lists",
                  "find the index of an item in a list", "convert integer to string",
                  "merge two dictionaries", "count occurrences of an element in a list"]
_MINED_SNIPPETS = ["s.split()", "[y for x in l for y in x]", "l.index(v)", "str(i)",
                   "{**a, **b}", "l.count(v)"]


def write_conala(folder: str, num_mined: int = 60) -> dict:
  """conala-train.json, conala-test.json (curated: intent, rewritten_intent, snippet,
  question_id) and conala-mined.jsonl (parent_answer_post_id, prob, snippet, intent, id,
  question_id), as conala-corpus v1.1 ships them; `export_conala --from_disk` reads them."""
  os.makedirs(folder, exist_ok=True)
  rows = [{"intent": i, "rewritten_intent": r, "snippet": s, "question_id": q}
          for i, r, s, q in _CURATED]
  with open(os.path.join(folder, "conala-train.json"), "w", encoding="utf-8") as f:
    json.dump(rows[:8], f, indent=2)
  with open(os.path.join(folder, "conala-test.json"), "w", encoding="utf-8") as f:
    json.dump(rows[8:], f, indent=2)
  with open(os.path.join(folder, "conala-mined.jsonl"), "w", encoding="utf-8") as f:
    for i in range(num_mined):
      question, answer = 5000000 + i // 2, 6000000 + i
      f.write(json.dumps({
          "parent_answer_post_id": answer, "prob": round(0.9 - 0.001 * i, 6),
          "snippet": _MINED_SNIPPETS[i % len(_MINED_SNIPPETS)],
          "intent": _MINED_INTENTS[i % len(_MINED_INTENTS)],
          "id": f"{question}_{answer}_{i % 2}", "question_id": question}) + "\n")
  return {"curated_train": 8, "curated_test": len(rows) - 8, "mined": num_mined}


def write_tiny_hf_t5(folder: str, variant: str = "t5_1_1", seed: int = 0) -> dict:
  """A random tiny T5ForConditionalGeneration (2+2 layers, d_model 64) and a byte-level BPE
  tokenizer trained on a few standard-library files, written with `save_pretrained` as the
  hub's CodeT5 (variant t5_1_0: relu, tied embeddings) or Flan-T5 (t5_1_1: gated-gelu) folders
  are. Needs PyTorch (transformers builds its T5 in it)."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise RuntimeError("writing a Hugging Face checkpoint needs PyTorch (pip install torch; "
                       "a CPU build is enough).") from None
  import transformers  # pylint: disable=g-import-not-at-top
  from tokenizers import ByteLevelBPETokenizer  # pylint: disable=g-import-not-at-top
  from code_t5.corpora import dev_dataset  # pylint: disable=g-import-not-at-top
  if variant not in ("t5_1_0", "t5_1_1"):
    raise ValueError(f"variant={variant!r}: expected t5_1_0 (CodeT5) or t5_1_1 (Flan-T5).")
  os.makedirs(folder, exist_ok=True)
  texts = []
  for name in ("json/decoder.py", "csv.py", "shlex.py", "textwrap.py"):
    path = os.path.join(dev_dataset.stdlib_dir(), name)
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        texts.append(f.read())
  bpe = ByteLevelBPETokenizer()
  bpe.train_from_iterator(texts or ["def f(x):\n    return x\n"], vocab_size=1000,
                          min_frequency=2,
                          special_tokens=["<pad>", "<s>", "</s>", "<unk>", "<mask>"])
  tokenizer = transformers.PreTrainedTokenizerFast(
      tokenizer_object=bpe._tokenizer, pad_token="<pad>", bos_token="<s>",  # pylint: disable=protected-access
      eos_token="</s>", unk_token="<unk>", mask_token="<mask>")
  tokenizer.save_pretrained(folder)
  config = transformers.T5Config(
      vocab_size=1024, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
      num_heads=4, pad_token_id=0, eos_token_id=2, decoder_start_token_id=0,
      feed_forward_proj="relu" if variant == "t5_1_0" else "gated-gelu",
      tie_word_embeddings=variant == "t5_1_0")
  torch.manual_seed(seed)
  model = transformers.T5ForConditionalGeneration(config)
  model.save_pretrained(folder)
  return {"folder": folder, "variant": variant, "parameters": model.num_parameters(),
          "tokenizer_ids": len(tokenizer)}
