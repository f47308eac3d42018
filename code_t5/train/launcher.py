"""The training launcher of the autocomplete recipe: the knobs teams set on every run, taken from
flags or from environment variables (the Docker image passes them that way), mapped onto the
trainer's own settings, recorded in the model directory, then the trainer is run.

  RESTORE_FROM  latest | no | <checkpoint>  resume from MODEL_DIR / start fresh / initialise
  LEARNING_RATE peak learning rate          SAVE_EVERY  checkpoint period (steps)
  VAL_EVERY     validation period (steps)   VAL_BATCH   validation batches per evaluation
  VAL_DATASET   task or mixture[:split] to validate on (default: the training task:validation)

Validation loss is cross-entropy per non-padding target token (reported as `val_loss`).
"""
import argparse
import dataclasses
import math
import os
import subprocess
import sys
from typing import Optional

from code_t5.train import checkpoint_files
from code_t5.train import trainer_runs
from code_t5 import atomic_files as atomic

GIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gin_configs")
ENV = {"restore_from": "RESTORE_FROM", "learning_rate": "LEARNING_RATE",
       "save_every": "SAVE_EVERY", "val_every": "VAL_EVERY", "val_batch": "VAL_BATCH",
       "val_dataset": "VAL_DATASET", "model_dir": "MODEL_DIR", "task": "TASK",
       "train_steps": "TRAIN_STEPS", "batch_size": "BATCH_SIZE", "size": "MODEL_SIZE",
       "trainer": "TRAINER", "mesh": "MESH"}

# T5X trains the decoder-only model on plain LM; Mesh TF its shared-parameter prefix LM.
DEFAULT_TASK = {"t5x": "flcc_dev_python_lm", "mtf": "flcc_dev_python_prefix_lm"}


@dataclasses.dataclass
class Settings:
  """One run. Defaults suit a first run of the tiny model on the dev dataset, on CPU."""
  model_dir: str
  trainer: str = ""  # default: the installed one, T5X first
  task: str = ""  # default: DEFAULT_TASK of the trainer
  size: str = "tiny"
  mesh: str = "cpu"
  train_steps: int = 1000
  batch_size: int = 8
  restore_from: str = "latest"
  learning_rate: float = 1e-3
  save_every: int = 500
  val_every: int = 500
  val_batch: int = 10
  val_dataset: str = ""
  sequence_length: int = 128

  def validation(self) -> tuple[str, str]:
    """(task or mixture, split) to validate on."""
    name, _, split = (self.val_dataset or self.task).partition(":")
    return name, split or "validation"


def parse(argv: Optional[list[str]] = None,
          environ: Optional[dict[str, str]] = None) -> tuple[Settings, list[str]]:
  """Settings from flags, else environment variables, else defaults; plus extra trainer flags
  (passed through, e.g. --gin.X=... for T5X or --gin_param=... for Mesh TF)."""
  environ = os.environ if environ is None else environ
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  for field in dataclasses.fields(Settings):
    env_name = ENV.get(field.name)
    default = environ.get(env_name) if env_name else None
    if default is None and field.default is not dataclasses.MISSING:
      default = field.default
    parser.add_argument(f"--{field.name}", type=_typed(field, env_name), default=default,
                        required=default is None, help=f"(env {env_name})" if env_name else None)
  args, extra = parser.parse_known_args(argv)
  settings = Settings(**vars(args))
  settings.trainer = settings.trainer or trainer_runs.installed_trainer() or "t5x"
  if settings.trainer not in DEFAULT_TASK:
    raise ValueError(f"TRAINER={settings.trainer!r}: use 't5x' or 'mtf'")
  settings.task = settings.task or DEFAULT_TASK[settings.trainer]
  check(settings)
  return settings, extra


def _typed(field: dataclasses.Field, env_name: Optional[str]):
  """A converter whose error names the environment variable as well as the flag."""
  kind = field.type if field.type in (int, float) else str

  def convert(value: str):
    try:
      return kind(value)
    except ValueError:
      raise argparse.ArgumentTypeError(
          f"{value!r} is not {'an integer' if kind is int else 'a number'}"
          + (f" (flag --{field.name} or env {env_name})" if env_name else "")) from None
  return convert


def check(s: Settings) -> None:
  """Fails early, naming the setting and the fix."""
  for name in ("train_steps", "batch_size", "save_every", "val_every", "val_batch"):
    if getattr(s, name) <= 0:
      raise ValueError(f"{ENV.get(name, name)}={getattr(s, name)}: must be a positive integer")
  if not math.isfinite(s.learning_rate) or s.learning_rate <= 0:
    raise ValueError(f"LEARNING_RATE={s.learning_rate}: must be a positive number")
  if s.restore_from not in ("latest", "no") and not os.path.exists(s.restore_from):
    raise ValueError(f"RESTORE_FROM={s.restore_from!r}: use 'latest', 'no' or the path of an "
                     "existing checkpoint")
  saved = (checkpoint_files.t5x_steps if s.trainer == "t5x" else
           checkpoint_files.mtf_steps)(s.model_dir)
  if s.restore_from == "no" and saved:
    raise ValueError(f"RESTORE_FROM=no but {s.model_dir} already holds checkpoints "
                     f"(latest: step {saved[-1]}); choose an empty "
                     "MODEL_DIR, or RESTORE_FROM=latest to resume")
  model = model_gin(s)
  if not os.path.exists(model):
    raise ValueError(f"MODEL_SIZE={s.size!r}: no {model}")


def model_gin(s: Settings) -> str:
  if s.trainer == "t5x":
    return os.path.join(GIN, "t5x", "models", f"decoder_only_{s.size}.gin")
  return os.path.join(GIN, "mtf", s.size, "shared-prefix_lm.gin")


def t5x_command(s: Settings) -> list[str]:
  """`python -m t5x.train` with each setting bound to T5X's own parameter."""
  val_task, val_split = s.validation()
  flags = [f"--gin_file={GIN}/t5x/lm.gin", f"--gin_file={model_gin(s)}",
           f"--gin_file={GIN}/t5x/mesh/{s.mesh}.gin",
           f"--gin.MODEL_DIR={s.model_dir!r}",
           f"--gin.MIXTURE_OR_TASK_NAME={s.task!r}",
           f"--gin.TASK_FEATURE_LENGTHS={{'targets': {s.sequence_length}}}",
           f"--gin.TRAIN_STEPS={s.train_steps}", f"--gin.BATCH_SIZE={s.batch_size}",
           f"--gin.utils.create_learning_rate_scheduler.base_learning_rate={s.learning_rate}",
           f"--gin.utils.create_learning_rate_scheduler.warmup_steps="
           f"{min(1000, s.train_steps // 10)}",
           f"--gin.utils.SaveCheckpointConfig.period={s.save_every}",
           f"--gin.train.eval_period={s.val_every}", f"--gin.train.eval_steps={s.val_batch}",
           f"--gin.train_eval/utils.DatasetConfig.mixture_or_task_name={val_task!r}",
           f"--gin.train_eval/utils.DatasetConfig.split={val_split!r}"]
  if s.restore_from not in ("latest", "no"):
    flags += [f"--gin.utils.RestoreCheckpointConfig.path={s.restore_from!r}",
              "--gin.utils.RestoreCheckpointConfig.mode='specific'"]
  return [sys.executable, "-m", "t5x.train", *flags]


def mtf_command(s: Settings, steps: int, evaluate: bool) -> list[str]:
  """`code-t5-mtf` training to `steps`, or evaluating the checkpoint at `steps`."""
  flags = [f"--model_dir={s.model_dir}", f"--gin_file={model_gin(s)}",
           f"--gin_file={GIN}/mtf/dataset.gin", f"--gin_file={GIN}/mtf/mesh/{s.mesh}.gin",
           f"--gin_param=utils.run.sequence_length={{'inputs': {s.sequence_length}, "
           f"'targets': {s.sequence_length}}}",
           f"--gin_param=utils.run.batch_size=('sequences_per_batch', {s.batch_size})",
           f"--gin_param=utils.run.save_checkpoints_steps={s.save_every}",
           "--gin_param=utils.run.keep_checkpoint_max=None",
           f"--gin_param=utils.run.iterations_per_loop={math.gcd(s.save_every, s.val_every)}",
           "--gin_param=utils.run.learning_rate_schedule="
           "@learning_rate_schedules.constant_learning_rate",
           f"--gin_param=constant_learning_rate.learning_rate={s.learning_rate}"]
  if evaluate:
    val_task, val_split = s.validation()
    return [sys.executable, "-m", "code_t5.train.mesh_tf", *flags, "--gin_file=perplexity_eval.gin",
            f"--gin_param=MIXTURE_NAME={val_task!r}",
            f"--gin_param=utils.run.dataset_split={val_split!r}",
            f"--gin_param=utils.run.perplexity_eval_steps={s.val_batch}",
            f"--gin_param=eval_checkpoint_step={steps}"]
  flags += [f"--gin_param=MIXTURE_NAME={s.task!r}",
            f"--gin_param=utils.run.train_steps={steps}"]
  if s.restore_from not in ("latest", "no"):
    flags.append(f"--gin_param=utils.run.init_checkpoint={s.restore_from!r}")
  return [sys.executable, "-m", "code_t5.train.mesh_tf", *flags]


def validation_losses(s: Settings) -> dict[int, float]:
  """{step: cross-entropy per non-padding target token} from the trainer's summaries."""
  if s.trainer == "mtf":
    return checkpoint_files.mtf_validation_losses(s.model_dir)
  return checkpoint_files.t5x_validation_losses(s.model_dir)


def record(s: Settings, commands: list[list[str]]) -> str:
  """Writes the settings and the trainer commands to MODEL_DIR/launch.json."""
  os.makedirs(s.model_dir, exist_ok=True)
  path = os.path.join(s.model_dir, "launch.json")
  atomic.write_json(path, {"settings": dataclasses.asdict(s), "commands": commands}, indent=1)
  return path


def _run(cmd: list[str]) -> None:
  print("$", " ".join(cmd), flush=True)
  code = subprocess.run(cmd).returncode
  if code:
    raise RuntimeError(f"{cmd[2]} failed with exit status {code} (its log is above)")


def launch(s: Settings, extra: list[str]) -> dict[int, float]:
  """Runs the trainer; returns the validation losses by step."""
  if s.trainer == "t5x":
    commands = [t5x_command(s) + extra]
  else:
    # Mesh TF trains and evaluates in separate runs: train to each validation step, then
    # evaluate that checkpoint, so validation really happens every VAL_EVERY steps.
    done = max(checkpoint_files.mtf_steps(s.model_dir) or [0])
    stops = [*range(s.val_every, s.train_steps, s.val_every), s.train_steps]
    commands = [cmd + extra for step in stops if step > done
                for cmd in (mtf_command(s, step, False), mtf_command(s, step, True))]
  print(f"settings recorded in {record(s, commands)}")
  for cmd in commands:
    _run(cmd)
  losses = validation_losses(s)
  for step, loss in sorted(losses.items()):
    print(f"step {step:>8}  val_loss {loss:.4f}  (cross-entropy per token, {s.validation()[0]})")
  return losses


def main(argv: Optional[list[str]] = None) -> int:
  try:
    settings, extra = parse(argv)
    launch(settings, extra)
  except (ValueError, RuntimeError, OSError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
