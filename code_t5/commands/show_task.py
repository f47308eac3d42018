"""Prints decoded examples and token counts of a registered task or mixture.

  code-t5-show-task --task=flcc_dev_python_full_line --split=validation --examples=3
"""
import json
import sys

from code_t5.commands import shared
from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
from code_t5.data import inspect_task


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--task", required=True, help="task or mixture name, e.g. "
                      "flcc_dev_python_span_corruption (all: seqio.TaskRegistry.names() after "
                      "import code_t5.mixtures)")
  parser.add_argument("--split", default="validation", help="default: %(default)s")
  parser.add_argument("--examples", type=int, default=2, help="examples to print")
  parser.add_argument("--inputs_length", type=int, default=256,
                      help="inputs length (decoder-only tasks: added to targets)")
  parser.add_argument("--targets_length", type=int, default=64, help="targets length")
  parser.add_argument("--count", action="store_true",
                      help="also count examples and tokens over the whole split")
  args = parser.parse_args(argv)

  def _show():
    inspect_task.registered(args.task)
    lengths = {"inputs": args.inputs_length, "targets": args.targets_length}
    for i, ex in enumerate(inspect_task.examples(args.task, args.split, args.examples, lengths)):
      for feature, text in ex.items():
        print(f"[{i}] {feature}:\n{text}\n")
    if args.count:
      print(json.dumps(inspect_task.count_tokens(args.task, args.split, lengths)))

  return shared.run(_show, args.debug)


if __name__ == "__main__":
  sys.exit(main())
