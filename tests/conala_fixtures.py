"""CoNaLa corpus files in the upstream formats (conala-corpus v1.1)."""
import json
import os

CURATED_TRAIN = [
    {"intent": "How to convert a list of multiple integers into a single integer?",
     "rewritten_intent": "Concatenate elements of a list 'x' of multiple integers to a single "
                         "integer", "snippet": "sum(d * 10 ** i for i, d in enumerate(x[::-1]))",
     "question_id": 41067960},
    {"intent": "how to convert a datetime string back to datetime object?",
     "rewritten_intent": "convert a DateTime string back to a DateTime object of format "
                         "'%Y-%m-%d %H:%M:%S.%f'",
     "snippet": "datetime.strptime('2010-11-13 10:33:54.227806', '%Y-%m-%d %H:%M:%S.%f')",
     "question_id": 4170655},
    {"intent": "Averaging the values in a dictionary based on the key",
     "rewritten_intent": None,
     "snippet": "[(i, sum(j) / len(j)) for i, j in list(d.items())]", "question_id": 29565452},
    {"intent": "zip lists in python", "rewritten_intent": "zip two lists `[1, 2]` and `[3, 4]`",
     "snippet": "zip([1, 2], [3, 4])", "question_id": 13704860},
]
CURATED_TEST = [
    {"intent": "How can I send a signal from a python program?",
     "rewritten_intent": "send a signal `signal.SIGUSR1` to the current process",
     "snippet": "os.kill(os.getpid(), signal.SIGUSR1)", "question_id": 15080500},
    {"intent": "Decode Hex String in Python 3", "rewritten_intent": "",
     "snippet": "bytes.fromhex('4a4b4c').decode('utf-8')", "question_id": 3283984},
]


def mined_row(i: int) -> dict:
  question = 34705205 + i // 3
  return {"parent_answer_post_id": 34705233 + i, "prob": 0.8690001442846342,
          "snippet": f"sorted(l{i}, key=lambda x: (-int(x[1]), x[0]))",
          "intent": f"Sort a nested list by two elements {i}",
          "id": f"{question}_{34705233 + i}_{i % 3}", "question_id": question}


def write_corpus(folder: str, num_mined: int = 7) -> str:
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "conala-train.json"), "w") as f:
    json.dump(CURATED_TRAIN, f, indent=2)
  with open(os.path.join(folder, "conala-test.json"), "w") as f:
    json.dump(CURATED_TEST, f, indent=2)
  with open(os.path.join(folder, "conala-mined.jsonl"), "w") as f:
    f.write("".join(json.dumps(mined_row(i)) + "\n" for i in range(num_mined)))
  return folder
