"""Training throughput of T5X recipes on the device this runs on, beside the device's measured
matmul peak, so that each recipe states its utilisation.

  python benchmarks/train_throughput.py [--gin_file=A.gin --gin_file=B.gin ...] [--steps=60]
      [--variant='name:--gin.X=V --gin.Y=W' ...] [--update_readme]

For each recipe (and each variant of the first one), `python -m t5x.train` runs --steps steps
into a fresh folder; T5X's own timing summaries give steps/s and target tokens/s over the second
half of the run (the first half holds compilation). Model FLOPs per token are PaLM's count
(Chowdhery et al. 2022, appendix B): 6 N + 12 L d T, N the parameters outside the input
embedding, L layers, d the attention width, T the sequence length. The peak is a float32
jnp.dot of two 2048 x 2048 matrices (and bfloat16) in the same run, best of 5.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import quiet
from code_t5.train import checkpoint_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = ["code_t5/gin_configs/t5x/autocomplete_cpu.gin"]
BEGIN, END = "<!-- train_throughput:begin -->", "<!-- train_throughput:end -->"
_VARIABLE = re.compile(r"Variable (\S+)\s+size (\d+)")


def matmul_peak(dtype: str, n: int = 2048, repeats: int = 5) -> float:
  """FLOP/s of an n x n jnp.dot in `dtype` on the default device (best of `repeats`)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32).astype(dtype)
  dot = jax.jit(jnp.dot)
  dot(a, a).block_until_ready()
  best = min(common.timed(lambda: dot(a, a).block_until_ready())[1] for _ in range(repeats))
  return 2 * n ** 3 / best


def model_shape(model_dir: str) -> dict:
  """Parameters (outside the input embedding), layers, attention width and sequence length,
  from the run's model-info.txt and config.gin."""
  with open(os.path.join(model_dir, "model-info.txt")) as f:
    sizes = {name: int(size) for name, size in _VARIABLE.findall(f.read())}
  with open(os.path.join(model_dir, "config.gin")) as f:
    config = f.read()

  def binding(name: str) -> int:
    match = re.search(rf"{name} = (\d+)", config)
    if not match:
      raise ValueError(f"{model_dir}/config.gin binds no {name}")
    return int(match.group(1))

  length = re.search(r"'targets': (\d+)", config)
  embedding = sum(size for name, size in sizes.items() if "token_embedder" in name)
  return {"params": sum(sizes.values()) - embedding, "embedding": embedding,
          "layers": binding("num_layers"),
          "width": binding("num_heads") * binding("head_dim"),
          "length": int(length.group(1)) if length else 0,
          "batch": binding("BATCH_SIZE")}


def measure(gin_file: str, steps: int, extra: list[str]) -> dict:
  """Trains `steps` steps of `gin_file`; T5X's rates over the second half of them."""
  model_dir = tempfile.mkdtemp(prefix="throughput_")
  half = max(1, steps // 2)
  cmd = [sys.executable, "-m", "t5x.train", f"--gin_file={gin_file}",
         f"--gin.MODEL_DIR={model_dir!r}", f"--gin.TRAIN_STEPS={half * 2}",
         f"--gin.train.stats_period={half}", f"--gin.train.eval_period={half * 2}",
         "--gin.train.eval_steps=1", f"--gin.utils.SaveCheckpointConfig.period={half * 2}",
         *extra]
  start = time.time()
  done = subprocess.run(cmd, cwd=ROOT, env=quiet.environment(), stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
  if done.returncode:
    raise RuntimeError(f"t5x.train failed:\n{done.stdout[-3000:]}")
  train_dir = os.path.join(model_dir, "train")
  read = lambda tag: checkpoint_files.read_scalars(train_dir, tag).get(half * 2)
  shape = model_shape(model_dir)
  return {"steps_per_s": read("timing/steps_per_second"),
          "tokens_per_s": read("timing/target_tokens_per_second"),
          "wall_s": time.time() - start, **shape}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--gin_file", action="append", help=f"default: {RECIPES}")
  parser.add_argument("--variant", action="append", default=[],
                      help="'name:--gin.X=V ...': the first recipe again with these bindings")
  parser.add_argument("--steps", type=int, default=60)
  common.add_output_flags(parser)
  args = parser.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
  recipes = [(os.path.basename(g), g, []) for g in (args.gin_file or RECIPES)]
  for variant in args.variant:
    name, _, flags = variant.partition(":")
    recipes.append((name, recipes[0][1], flags.split()))
  rows = []
  for name, gin_file, extra in recipes:
    m = measure(gin_file, args.steps, extra)
    flops_per_token = 6 * m["params"] + 12 * m["layers"] * m["width"] * m["length"]
    flops = flops_per_token * (m["tokens_per_s"] or 0)
    rows.append({"recipe": name, "params (non-embedding)": m["params"],
                 "tokens/step": m["batch"] * m["length"],
                 "steps/s": round(m["steps_per_s"] or 0, 3),
                 "tokens/s": round(m["tokens_per_s"] or 0),
                 "model GFLOP/s": round(flops / 1e9, 2),
                 "utilisation (of f32 peak)": f"{flops / peaks['float32']:.1%}"})
  extra = {"device": f"{device.platform}: {device.device_kind}", "steps": args.steps,
           "peak_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
           "date": time.strftime("%Y-%m-%d")}
  result = common.report("train_throughput", rows, common.out_dir(args), extra)
  print(f"device {extra['device']}; matmul peak GFLOP/s: {extra['peak_gflops']}")
  if args.update_readme:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    command = " ".join(sys.argv[1:])
    common.write_section("\n".join([
        BEGIN, f"`python benchmarks/train_throughput.py {command}` ({extra['date']}, "
        f"{result['machine']['cpus']} CPUs, {extra['device']}; matmul peak: "
        f"{extra['peak_gflops']['float32']} GFLOP/s float32, "
        f"{extra['peak_gflops']['bfloat16']} bfloat16). Model FLOPs: PaLM's 6N + 12LdT per "
        "token; rates over the second half of the steps.", "", *lines, END]),
        BEGIN, END, "Training throughput")


if __name__ == "__main__":
  main()
