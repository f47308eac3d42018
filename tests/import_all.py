"""Imports every module of the installed code_t5 and fails if one does not import, or if the
package imported is not the installed one (run it from outside the clone: .ci/run's wheel lane).

  python tests/import_all.py [--allow_missing=t5x,clu]

Modules that need an optional package named in --allow_missing (T5X is not on PyPI) are
counted as skipped, with the package named.
"""
import argparse
import importlib
import importlib.util
import os
import pkgutil
import sys


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--allow_missing", default="t5x,clu",
                      help="optional top-level packages a module may lack (default: %(default)s)")
  parser.add_argument("--clone", help="the source checkout, which must not be what imports")
  args = parser.parse_args(argv)
  allowed = set(filter(None, args.allow_missing.split(",")))
  import code_t5  # pylint: disable=g-import-not-at-top
  location = os.path.dirname(os.path.abspath(code_t5.__file__))
  print(f"code_t5 from {location}")
  # The clone's own source folder (a virtual environment inside the clone is an install).
  if args.clone and location == os.path.join(os.path.abspath(args.clone), "code_t5"):
    print(f"FAIL: code_t5 imported from the clone ({location}), not from the install.")
    return 1
  failed, skipped, imported = [], [], 0
  for info in pkgutil.walk_packages(code_t5.__path__, "code_t5."):
    if info.name.endswith(".__main__"):  # runs its program when imported: found is enough
      if importlib.util.find_spec(info.name) is None:
        failed.append(f"{info.name}: not found")
      continue
    try:
      importlib.import_module(info.name)
      imported += 1
    except ModuleNotFoundError as e:
      if (e.name or "").split(".")[0] in allowed:
        skipped.append(f"{info.name} (needs {e.name})")
      else:
        failed.append(f"{info.name}: {e!r}")
    except Exception as e:  # pylint: disable=broad-except  (report every module, then fail)
      failed.append(f"{info.name}: {e!r}")
  print(f"imported {imported} modules; skipped {len(skipped)}: {', '.join(skipped) or '-'}")
  for line in failed:
    print(f"FAIL: {line}")
  return 1 if failed or not imported else 0


if __name__ == "__main__":
  sys.exit(main())
