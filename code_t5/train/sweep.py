"""Hyper-parameter search over a T5X recipe's gin bindings, with Optuna.

Each trial trains `python -m t5x.train` for a fixed wall-time budget and is scored by its
held-out loss in nats per byte of source text (per byte, not per token, so that vocabularies of
different sizes compare). T5X stops by steps, not time, so a trial runs in two parts: a short
probe measures its steps per second, then a second run (restoring the probe's checkpoint) trains
until the budget is spent, evaluating about four times on the way (the last evaluation scores
the trial). The learning
rate is constant after warm-up: a trial stopped at any step is a fair sample.

The study lives in SQLite in the sweep folder: a killed sweep resumes (its interrupted trial is
failed by Optuna's heartbeat and retried once), and two sweeps on one folder share the work. A
trial that crashes or diverges is recorded as failed with its reason, and the sweep goes on.
"""
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from typing import Callable, Optional

from code_t5 import quiet
from code_t5.train import checkpoint_files

# Built-in search space: name -> ("log", low, high) | ("int", low, high) | ("choice", [values]).
DEFAULT_SPACE = {
    "learning_rate": ["log", 1e-3, 3e-2],
    "emb_dim": ["choice", [128, 256, 384]],
    "num_layers": ["choice", [2, 3, 4, 6]],
    "vocabulary": ["choice", ["spm", "byte"]],
    "sequence_length": ["choice", [128, 256, 512]],
    "batch_size": ["choice", [8, 16, 32]],
}
VOCAB_SUFFIX = {"spm": "_spm", "byte": ""}
PROBE_STEPS = 20
WARMUP_STEPS = 50
EVALS = 4  # held-out evaluations in a trial's second part


class TrialFailed(Exception):
  """A trial that crashed, diverged or ran out of budget before any evaluation."""


def bindings(params: dict, base_task: str) -> list[str]:
  """`--gin.X=V` flags for one trial's parameters (names as in DEFAULT_SPACE)."""
  flags = []
  for name, value in params.items():
    if name == "learning_rate":
      flags.append(f"utils.create_learning_rate_scheduler.base_learning_rate={value!r}")
    elif name == "emb_dim":
      flags += [f"network.TransformerConfig.emb_dim={value}",
                f"network.TransformerConfig.mlp_dim={4 * value}",
                f"network.TransformerConfig.num_heads={max(1, value // 64)}",
                "network.TransformerConfig.head_dim=64"]
    elif name == "num_layers":
      flags.append(f"network.TransformerConfig.num_layers={value}")
    elif name == "vocabulary":
      flags += [f"VOCAB={value!r}", f"MIXTURE_OR_TASK_NAME={task_name(base_task, value)!r}"]
    elif name == "sequence_length":
      flags.append(f"TASK_FEATURE_LENGTHS={{'targets': {value}}}")
    elif name == "batch_size":
      flags.append(f"BATCH_SIZE={value}")
    else:
      raise ValueError(f"unknown sweep parameter {name!r}; known: {', '.join(DEFAULT_SPACE)}")
  return ["--gin." + flag for flag in flags]


def recipe_text(gin_file: str) -> str:
  """The gin file with its includes inlined (depth first, as gin reads them), for reading the
  values the recipe sets; includes resolve from the current folder, as t5x.train's do."""
  with open(gin_file) as f:
    text = f.read()
  return re.sub(r"^include '([^']+)'$", lambda m: recipe_text(m.group(1))
                if os.path.exists(m.group(1)) else "", text, flags=re.M)


def recipe_defaults(gin_file: str) -> dict:
  """The recipe's batch size and target length (the last binding of each)."""
  text = recipe_text(gin_file)
  batch = re.findall(r"^BATCH_SIZE = (\d+)", text, re.M)
  length = re.findall(r"^TASK_FEATURE_LENGTHS = \{'targets': (\d+)", text, re.M)
  return {"batch_size": int(batch[-1]) if batch else 16,
          "sequence_length": int(length[-1]) if length else 256}


def task_name(base_task: str, vocabulary: str) -> str:
  """`flcc_dev_python_lm_spm` -> `flcc_dev_python_lm` for 'byte', and back."""
  for suffix in VOCAB_SUFFIX.values():
    if suffix and base_task.endswith(suffix):
      base_task = base_task[:-len(suffix)]
  return base_task + VOCAB_SUFFIX[vocabulary]


def suggest(trial, space: dict) -> dict:
  """One point of `space`, drawn by the Optuna trial."""
  params = {}
  for name, spec in space.items():
    kind = spec[0]
    if kind == "log":
      params[name] = trial.suggest_float(name, spec[1], spec[2], log=True)
    elif kind == "int":
      params[name] = trial.suggest_int(name, spec[1], spec[2])
    elif kind == "choice":
      params[name] = trial.suggest_categorical(name, spec[1])
    else:
      raise ValueError(f"search space {name!r}: kind {kind!r} is not 'log', 'int' or 'choice'")
  return params


def tokens_per_byte(task: str, split: str = "validation") -> float:
  """Tokens the task's vocabulary writes per UTF-8 byte of the split's text (EOS included)."""
  import seqio  # pylint: disable=g-import-not-at-top
  import code_t5.tasks  # pylint: disable=g-import-not-at-top,unused-import
  task_ = seqio.get_mixture_or_task(task)
  vocabulary = task_.output_features["targets"].vocabulary
  tokens = size = 0
  for example in task_.source.get_dataset(split=split, shuffle=False).as_numpy_iterator():
    text = example["text"]
    size += len(text)
    tokens += len(vocabulary.encode(text.decode("utf-8"))) + 1
  if not size:
    raise ValueError(f"task {task}: its {split!r} split is empty; prepare the data first")
  return tokens / size


@dataclasses.dataclass
class Curve:
  """Held-out loss in nats per byte by step, and the seconds since the trial began."""
  steps: list[int]
  seconds: list[float]
  nats_per_byte: list[float]


def held_out_curve(model_dir: str, per_byte: float, start: float) -> Curve:
  """The trial's T5X training evals, converted to nats per byte (cross-entropy per non-padding
  token, times tokens per byte)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  event_dir = os.path.join(model_dir, "training_eval")
  per_token = checkpoint_files.t5x_validation_losses(model_dir)
  wall = {}
  for path in tf.io.gfile.glob(os.path.join(event_dir, "**", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      if any(v.tag == "cross_ent_loss_per_all_target_tokens" for v in event.summary.value):
        wall[event.step] = event.wall_time
  steps = sorted(per_token)
  return Curve(steps, [wall.get(s, start) - start for s in steps],
               [per_token[s] * per_byte for s in steps])


def run_curve(model_dir: str, task: str) -> Curve:
  """A finished t5x.train run's held-out curve in nats per byte (`task`'s vocabulary), its
  clock started when T5X wrote the run's config.gin."""
  return held_out_curve(model_dir, tokens_per_byte(task),
                        os.path.getmtime(os.path.join(model_dir, "config.gin")))


def _train(cmd: list[str], log_path: str, timeout: float) -> tuple[int, bool]:
  """Runs one t5x.train; returns (exit status, whether it was stopped at `timeout`)."""
  with open(log_path, "a") as log:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=quiet.environment(),
                            start_new_session=True)
    try:
      return proc.wait(timeout=max(1.0, timeout)), False
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)
      return proc.wait(), True


def _log_tail(log_path: str) -> str:
  """The log's last error line (else its last line), cut to 300 characters."""
  with open(log_path, errors="replace") as f:
    lines = [line.strip() for line in f if line.strip()]
  errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
  return ((errors or lines or ["(empty log)"])[-1])[:300]


def run_trial(gin_file: str, params: dict, base_task: str, model_dir: str, budget_s: float,
              held_out_bytes: int, per_byte: Callable[[str], float],
              extra: Optional[list[str]] = None) -> tuple[float, Curve, int, int]:
  """Trains one point for `budget_s` seconds; returns (final held-out nats per byte, the curve,
  steps trained, tokens per step). Raises TrialFailed with the reason."""
  start = time.time()
  os.makedirs(model_dir, exist_ok=True)
  log_path = os.path.join(model_dir, "train.log")
  defaults = recipe_defaults(gin_file)
  batch = params.get("batch_size", defaults["batch_size"])
  length = params.get("sequence_length", defaults["sequence_length"])
  ratio = per_byte(task_name(base_task, params["vocabulary"]) if "vocabulary" in params
                   else base_task)
  eval_steps = max(1, math.ceil(held_out_bytes * ratio / max(1, batch * length)))
  base = [sys.executable, "-m", "t5x.train", f"--gin_file={gin_file}",
          f"--gin.MODEL_DIR={model_dir!r}", *bindings(params, base_task), *(extra or []),
          "--gin.utils.create_learning_rate_scheduler.factors='constant * linear_warmup'",
          f"--gin.utils.create_learning_rate_scheduler.warmup_steps={WARMUP_STEPS}",
          f"--gin.train.eval_steps={eval_steps}", "--gin.utils.SaveCheckpointConfig.keep=1"]

  def part(steps: int, period: int, timeout: float) -> tuple[int, bool]:
    return _train(base + [f"--gin.TRAIN_STEPS={steps}", f"--gin.train.eval_period={period}",
                          f"--gin.utils.SaveCheckpointConfig.period={period}"],
                  log_path, timeout)

  code, stopped = part(PROBE_STEPS, PROBE_STEPS, budget_s)
  if code and not stopped:
    raise TrialFailed(f"crashed (exit {code}): {_log_tail(log_path)}")
  if stopped or not checkpoint_files.t5x_steps(model_dir):
    raise TrialFailed(f"the {PROBE_STEPS}-step probe did not finish within the budget")
  probe_s = time.time() - start
  # The second part pays start-up and compilation again (a fifth of the rest of the budget is
  # kept for them), evaluates about EVALS times at the probe's rate, and trains on until the
  # budget stops it: a slower estimate gives more evaluations, never a shorter trial.
  rate = max(_train_rate(model_dir), PROBE_STEPS / probe_s)
  period = max(1, int(rate * (budget_s - probe_s) * 0.8) // EVALS)
  steps = PROBE_STEPS + 1000 * period
  code, stopped = part(steps, period, budget_s - (time.time() - start))
  if code and not stopped:
    raise TrialFailed(f"crashed (exit {code}): {_log_tail(log_path)}")
  curve = held_out_curve(model_dir, ratio, start)
  if not curve.steps:
    raise TrialFailed("no held-out evaluation was written")
  final = curve.nats_per_byte[-1]
  if not math.isfinite(final) or final > curve.nats_per_byte[0]:
    raise TrialFailed(f"diverged: held-out loss {curve.nats_per_byte[0]:.3f} -> {final:.3f} "
                      "nats/byte")
  return final, curve, curve.steps[-1], batch * length


def _train_rate(model_dir: str) -> float:
  """Steps per second of the probe's training loop, compilation excluded (T5X's own timing
  summary over its last reporting period), or a small default."""
  rates = checkpoint_files.read_scalars(os.path.join(model_dir, "train"),
                                        "timing/steps_per_second")
  return rates[max(rates)] if rates else 0.1


def open_study(sweep_dir: str, name: str = "sweep"):
  """The Optuna study in `sweep_dir`/study.db, created or resumed. A trial left running by a
  killed sweep is failed after the heartbeat's grace period and retried once."""
  import optuna  # pylint: disable=g-import-not-at-top
  os.makedirs(sweep_dir, exist_ok=True)
  optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial's failure: our own line
  warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
  storage = optuna.storages.RDBStorage(
      f"sqlite:///{os.path.abspath(os.path.join(sweep_dir, 'study.db'))}",
      heartbeat_interval=30, grace_period=90,
      heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
          max_retry=1),
      engine_kwargs={"connect_args": {"timeout": 60}})
  return optuna.create_study(study_name=name, storage=storage, direction="minimize",
                             load_if_exists=True,
                             sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))


def sweep(gin_file: str, sweep_dir: str, trials: int, budget_s: float, base_task: str,
          space: Optional[dict] = None, held_out_bytes: int = 65536,
          extra: Optional[list[str]] = None, progress=print) -> "optuna.Study":
  """Runs trials until `trials` have finished (completed or failed) in the study."""
  import optuna  # pylint: disable=g-import-not-at-top
  space = space or DEFAULT_SPACE
  study = open_study(sweep_dir)
  ratios: dict[str, float] = {}

  def per_byte(task: str) -> float:
    if task not in ratios:
      ratios[task] = tokens_per_byte(task)
    return ratios[task]

  def objective(trial) -> float:
    params = suggest(trial, space)
    model_dir = os.path.join(os.path.abspath(sweep_dir), f"trial_{trial.number:03d}")
    trial.set_user_attr("model_dir", model_dir)
    try:
      value, curve, steps, tokens_per_step = run_trial(
          gin_file, params, base_task, model_dir, budget_s, held_out_bytes, per_byte, extra)
    except Exception as e:  # pylint: disable=broad-except  (one trial's error ends that trial)
      reason = str(e) if isinstance(e, TrialFailed) else f"error: {type(e).__name__}: {e}"
      trial.set_user_attr("failure", reason)
      progress(f"trial {trial.number}: failed - {reason}")
      raise TrialFailed(reason) from e
    trial.set_user_attr("curve", dataclasses.asdict(curve))
    trial.set_user_attr("steps", steps)
    trial.set_user_attr("tokens", steps * tokens_per_step)
    progress(f"trial {trial.number}: {value:.4f} nats/byte after {steps} steps "
             f"({json.dumps(params)})")
    return value

  finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
  study.optimize(objective, catch=(TrialFailed,), callbacks=[
      optuna.study.MaxTrialsCallback(trials, states=finished)],
      n_trials=trials)
  return study


def table(study) -> str:
  """The study's trials as a Markdown table, best first; failed trials last with their reason."""
  import optuna  # pylint: disable=g-import-not-at-top
  done = sorted((t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE),
                key=lambda t: t.value)
  failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
  names = list(DEFAULT_SPACE) if not study.trials else list(study.trials[0].params)
  rows = ["| rank | trial | held-out nats/byte | steps | tokens | "
          + " | ".join(names) + " |", "|" + "---|" * (5 + len(names))]
  for rank, t in enumerate(done, 1):
    rows.append(f"| {rank} | {t.number} | {t.value:.4f} | {t.user_attrs.get('steps', '')} | "
                f"{t.user_attrs.get('tokens', '')} | "
                + " | ".join(_shown(t.params.get(n)) for n in names) + " |")
  for t in failed:
    rows.append(f"| failed | {t.number} | {t.user_attrs.get('failure', 'interrupted')} | | | "
                + " | ".join(_shown(t.params.get(n)) for n in names) + " |")
  return "\n".join(rows)


def _shown(value) -> str:
  return f"{value:.4g}" if isinstance(value, float) else str(value if value is not None else "")


def plot(study, path: str, extra_curves: Optional[dict[str, Curve]] = None) -> None:
  """Held-out nats per byte against wall time, one line per completed trial (and per extra
  curve, e.g. the chosen recipe's full run), as a PNG."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(8, 5))
  for t in study.trials:
    if "curve" in t.user_attrs:
      c = t.user_attrs["curve"]
      ax.plot([s / 60 for s in c["seconds"]], c["nats_per_byte"], marker=".", alpha=0.6,
              label=f"trial {t.number}")
  for label, c in (extra_curves or {}).items():
    ax.plot([s / 60 for s in c.seconds], c.nats_per_byte, linewidth=2.5, label=label)
  ax.set_xlabel("wall time (minutes)")
  ax.set_ylabel("held-out loss (nats per byte)")
  ax.legend(fontsize=7, ncol=2)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
