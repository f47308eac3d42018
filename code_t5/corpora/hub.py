"""Downloads from the Hugging Face hub, with a fast, clear failure where there is no network.

`datasets.load_dataset` retries an unreachable hub for about 25 s and then names neither the
cause nor the way around it; the exports all take `--from_disk=DIR` (a local copy) instead.
"""
import os
import socket
import urllib.parse

HUB_URL = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
PROBE_SECONDS = 3


def _offline_mode() -> bool:
  """The user asked the hub libraries to use their local cache only."""
  return any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE",
                                                                "HF_DATASETS_OFFLINE"))


def unreachable() -> str:
  """Why the hub cannot be reached ("" when it can, or when offline mode is on)."""
  if _offline_mode():
    return ""
  url = urllib.parse.urlparse(HUB_URL)
  try:
    socket.create_connection((url.hostname, url.port or 443), timeout=PROBE_SECONDS).close()
  except OSError as e:
    return f"{url.hostname}: {e.strerror or e}"
  return ""


def load_dataset(name: str, config=None, **kwargs):
  """datasets.load_dataset(name, config), failing at once and in one line without network."""
  hint = ("without network, pass --from_disk=DIR with a local copy (README.md, 'Data'), or "
          "set HF_HUB_OFFLINE=1 to use the hub cache")
  problem = unreachable()
  if problem:
    raise ConnectionError(f"cannot reach the Hugging Face hub for {name} ({problem}); {hint}.")
  try:
    import datasets  # pylint: disable=g-import-not-at-top  (slow import)
  except ImportError:
    raise RuntimeError(f"downloading {name} needs the `datasets` package (pip install "
                       "datasets), which this environment lacks; or pass --from_disk=DIR with "
                       "a local copy.") from None
  try:
    return datasets.load_dataset(name, config, **kwargs)
  except ConnectionError as e:
    raise ConnectionError(f"cannot download {name} from the Hugging Face hub ({e}); "
                          f"{hint}.") from None
