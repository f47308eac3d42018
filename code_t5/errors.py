"""Errors a user fixes by changing a flag, a file or a setting, and how they are shown.

Our commands print a UsageError (like any ValueError) in one line (code_t5/commands/shared.py). Inside
T5X's own commands (`python -m t5x.train`, `t5x.eval`, `t5x.infer`), which gin-configured
checks of ours run in, T5X and absl would print it with a traceback of a hundred lines:
`one_line_in_t5x()` installs a sys.excepthook there that prints it in one line instead
(`--debug` on the command line, or CODE_T5_VERBOSE=1, keeps the traceback).
"""
import sys

from code_t5 import quiet


class UsageError(ValueError):
  """Bad input a user can fix; the message names the setting, the file and the fix."""


def _usage_error(exc: BaseException):
  """`exc` or the UsageError it was raised from (gin re-raises with its own context)."""
  seen = set()
  while exc is not None and id(exc) not in seen:
    if isinstance(exc, UsageError):
      return exc
    seen.add(id(exc))
    exc = exc.__cause__ or exc.__context__
  return None


def _excepthook(previous):
  def hook(exc_type, exc, tb):
    error = _usage_error(exc)
    if error is None:
      return previous(exc_type, exc, tb)
    # gin appends "In call to configurable ..." lines: the first line is ours.
    print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
    return None
  hook.code_t5 = True
  return hook


def one_line_in_t5x() -> None:
  """Shows UsageErrors in one line when this process is one of T5X's commands."""
  main = getattr(sys.modules.get("__main__"), "__spec__", None)
  if main is None or not (main.name or "").startswith("t5x.") or quiet.verbose_requested():
    return
  if not getattr(sys.excepthook, "code_t5", False):
    sys.excepthook = _excepthook(sys.excepthook)
