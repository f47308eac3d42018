"""Full fine-tuning vs LoRA (runs/finetune.gin vs runs/finetune_lora.gin, rank 8 on attention
q and v): trainable parameters, optimizer-state bytes, peak RSS and steps/s of T5 1.1 small and
base on this machine's CPU, measured side by side in one run; then, from the same counts, the
bytes per device of xl, xxl and a 20B model on the documented meshes (a projection).

Counts come from the train state T5X builds (jax.eval_shape: nothing allocated), with the T5
vocabulary's 32,128-row embedding. The measured runs use the byte vocabulary on the dev dataset
(`code-t5-make-dev-dataset` first): a 1-step pre-training makes the checkpoint both fine-tunes
start from; each fine-tune runs STEPS steps and steps/s is T5X's own over the second half
(compiled); peak RSS is the fine-tune process's.

  python benchmarks/lora_memory.py [--models=small,base] [--steps=10] [--update_readme]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import paths

GIN = "code_t5/gin_configs/t5x"
REPO = os.path.dirname(common.HERE)
TARGETS = ".*attention/(query|value)"
RANK = 8
T5_VOCAB_ROWS = 32128
# A 20B model: UL2 20B's sizes in T5 1.1's network (gated GELU instead of UL2's gated SiLU).
UL2_20B = {"emb_dim": 4096, "num_heads": 16, "head_dim": 256, "num_encoder_layers": 32,
           "num_decoder_layers": 32, "mlp_dim": 16384}
# (mesh file, model-parallel partitions in it, devices, memory per device in GB, the device).
MESHES = [("gpu_1", 1, 1, 80, "A100/H100 80 GB"), ("gpu_8", 2, 8, 80, "A100/H100 80 GB"),
          ("tpu_v3_8", 1, 8, 16, "TPU v3 core, 16 GiB"),
          ("tpu_v4_32", 2, 16, 32, "TPU v4 chip, 32 GiB")]


def counts(model_file: str, sizes: dict | None = None) -> dict:
  """Parameters, trainable parameters and optimizer-state bytes, full vs LoRA, of a model file
  (with sizes overridden), from the train states T5X builds, without allocating them."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from t5x import train_state as train_state_lib  # pylint: disable=g-import-not-at-top
  from code_t5.train import lora, t5x_restore  # pylint: disable=g-import-not-at-top
  bindings = ["from t5x.examples.t5 import network",
              f"network.T5Config.vocab_size = {T5_VOCAB_ROWS}",
              *(f"network.T5Config.{k} = {v}" for k, v in (sizes or {}).items())]
  base = t5x_restore.build_model([os.path.join(REPO, GIN, "models", f"{model_file}.gin")],
                                 bindings=bindings)
  out = {}
  for mode, model in (("full", base), ("lora", lora.adapt(base, rank=RANK, targets=TARGETS))):
    shapes = {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 8)}
    types = {k: jnp.int32 for k in shapes}
    state = jax.eval_shape(lambda m=model: train_state_lib.FlaxOptimTrainState.create(
        m.optimizer_def, m.get_initial_variables(jax.random.PRNGKey(0), shapes, types)))
    params = jax.tree_util.tree_leaves_with_path(state.params)
    trainable = [v for p, v in params if mode == "full" or lora.is_adapter(
        "/".join(str(getattr(k, "key", k)) for k in p))]
    out[mode] = {
        "params": sum(v.size for _, v in params),
        "trainable": sum(v.size for v in trainable),
        "optimizer_bytes": sum(v.size * v.dtype.itemsize for v in jax.tree_util.tree_leaves(
            state.param_states)),
        "param_bytes": sum(v.size * v.dtype.itemsize for _, v in params),
        "trainable_bytes": sum(v.size * v.dtype.itemsize for v in trainable)}
  return out


def _train(data_dir: str, flags: list[str]) -> tuple[float, float]:
  """(steps/s of the last logged period, peak RSS in GB) of one t5x.train run."""
  wrapper = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
  result = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "t5x.train",
                           *flags], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "CODE_T5_DATA_DIR": data_dir})
  if result.returncode != 0:
    raise RuntimeError(result.stderr[-3000:])
  peak_gb = int(result.stdout.strip().splitlines()[-1]) / 1e6  # ru_maxrss is in KB on Linux
  return peak_gb, result


def measure(model_file: str, steps: int, root: str) -> dict:
  from code_t5.train import checkpoint_files  # pylint: disable=g-import-not-at-top
  data_dir = paths.data_dir()
  def flags(run: str) -> list[str]:  # model, run, mesh, task: the run file sets the task REQUIRED
    return [f"--gin_file={GIN}/models/{model_file}.gin", f"--gin_file={GIN}/runs/{run}.gin",
            f"--gin_file={GIN}/mesh/cpu.gin",
            f"--gin_file={GIN}/tasks/flcc_dev_python_full_line.gin", "--gin.BATCH_SIZE=8",
            "--gin.train.train_eval_dataset_cfg=None", "--gin.train.infer_eval_dataset_cfg=None"]
  base_dir = os.path.join(root, f"{model_file}_base")
  _train(data_dir, [*flags("pretrain"),
                    f"--gin.MODEL_DIR='{base_dir}'", "--gin.TRAIN_STEPS=1",
                    "--gin.train.eval_period=1", "--gin.utils.SaveCheckpointConfig.period=1"])
  out = {}
  half = steps // 2
  for mode, run in (("full", "finetune"), ("lora", "finetune_lora")):
    model_dir = os.path.join(root, f"{model_file}_{mode}")
    peak, _ = _train(data_dir, [
        *flags(run), f"--gin.MODEL_DIR='{model_dir}'",
        f"--gin.INITIAL_CHECKPOINT_PATH='{base_dir}/checkpoint_1'",
        f"--gin.TRAIN_STEPS={1 + 2 * half}", f"--gin.train.eval_period={half}",
        f"--gin.utils.SaveCheckpointConfig.period={half}",
        *([f"--gin.LORA_TARGETS='{TARGETS}'", f"--gin.LORA_RANK={RANK}"]
          if mode == "lora" else [])])
    speed = checkpoint_files.read_scalars(os.path.join(model_dir, "train"),
                                          "timing/steps_per_second")
    out[mode] = {"steps_per_s": speed[max(speed)], "peak_rss_gb": peak}
  return out


def projection(name: str, c: dict) -> list[dict]:
  """Bytes per device: params + gradients + optimizer state, split over the model-parallel
  partitions (T5X's standard rules shard kernels and embeddings on the model axis); the
  activations are left out, so a 'fits' here is necessary, not sufficient."""
  rows = []
  for mesh, partitions, devices, gb, device in MESHES:
    row = {"model": name, "mesh": f"{mesh} ({devices} x {device})"}
    for mode in ("full", "lora"):
      total = c[mode]["param_bytes"] + c[mode]["trainable_bytes"] + c[mode]["optimizer_bytes"]
      per_device = total / partitions / 1e9
      row[f"{mode}_gb_per_device"] = round(per_device, 1)
      row[f"{mode}_fits"] = "yes" if per_device < 0.8 * gb else "no"
    rows.append(row)
  return rows


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default="small,base", help="T5 1.1 sizes to measure")
  parser.add_argument("--steps", type=int, default=10, help="fine-tuning steps per run")
  common.add_output_flags(parser)
  args = parser.parse_args()
  measured = []
  with tempfile.TemporaryDirectory() as root:
    for size in args.models.split(","):
      c, m = counts(f"t5_1_1_{size}"), measure(f"t5_1_1_{size}", args.steps, root)
      for mode in ("full", "lora"):
        measured.append({
            "model": f"t5_1_1_{size}", "mode": mode, "params": c[mode]["params"],
            "trainable": c[mode]["trainable"],
            "trainable_%_of_full": round(100 * c[mode]["trainable"] / c["full"]["trainable"], 3),
            "optimizer_MB": round(c[mode]["optimizer_bytes"] / 1e6, 2),
            "optimizer_%_of_full": round(
                100 * c[mode]["optimizer_bytes"] / c["full"]["optimizer_bytes"], 2),
            "steps_per_s": round(m[mode]["steps_per_s"], 3),
            "peak_rss_GB": round(m[mode]["peak_rss_gb"], 2)})
  projected = []
  for name, model_file, sizes in (("t5_1_1_xl", "t5_1_1_xl", None),
                                  ("t5_1_1_xxl", "t5_1_1_xxl", None),
                                  ("20B (UL2 20B's sizes)", "t5_1_1_base", UL2_20B)):
    projected += projection(name, counts(model_file, sizes))
  result = common.report("lora_memory", measured, common.out_dir(args),
                         {"projection": projected, "rank": RANK, "targets": TARGETS,
                          "steps": args.steps})
  print()
  common.report("lora_memory_projection", projected, common.out_dir(args))
  if args.update_readme:
    common.write_section(_table(result), "<!-- lora_memory -->", "<!-- /lora_memory -->",
                         "LoRA vs full fine-tuning: memory and speed")


def _table(result: dict) -> str:
  def md(rows):
    head = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n"
    return head + "".join("| " + " | ".join(common._fmt(v) for v in r.values()) + " |\n"  # pylint: disable=protected-access
                          for r in rows)
  return ("<!-- lora_memory -->\n" + md(result["rows"]) + "\nProjected bytes per device "
          "(params + gradients + optimizer state over the model-parallel partitions; "
          "activations left out; 'fits' below 80 % of the device's memory):\n\n"
          + md(result["projection"]) + "<!-- /lora_memory -->")


if __name__ == "__main__":
  main()
