"""Training throughput of T5X recipes on the device this runs on, beside the device's measured
matmul peak, so that each recipe states its utilisation.

  python benchmarks/train_throughput.py [--gin_file=A.gin --gin_file=B.gin ...] [--steps=60]
      [--variant='name:--gin.X=V --gin.Y=W' ...] [--processes=2] [--update_readme]

For each recipe (and each variant of the first one), `python -m t5x.train` runs --steps steps
into a fresh folder; T5X's own timing summaries give steps/s and target tokens/s over the second
half of the run (the first half holds compilation). Model FLOPs per token are PaLM's count
(Chowdhery et al. 2022, appendix B): 6 N + 12 L d T, N the parameters outside the input
embedding, L layers, d the attention width, T the sequence length. The peak is a float32
jnp.dot of two 2048 x 2048 matrices (and bfloat16) in the same run, best of 5.

--processes=N times each recipe twice more on the same global batch and the same N CPU devices:
one process emulating N devices (the GPU-style data x model mesh of tests/t5x_sharding_probe.py)
and N JAX processes of one device each (code-t5-multiprocess: gloo collectives, T5X's CPU mesh,
data over the processes); the row of the N processes gives its step time over the one's.
"""
import argparse
import itertools
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
MARKERS = "<!-- {}:begin -->", "<!-- {}:end -->"
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


def _launch(processes: int, devices: int, model_dir: str) -> tuple[list[str], dict, list[str]]:
  """(command prefix, environment, extra gin flags) for `processes` x `devices` CPU devices."""
  env = quiet.environment()
  if processes > 1:
    return ([sys.executable, "-m", "code_t5.train.multiprocess", f"--processes={processes}",
             f"--devices_per_process={devices}", f"--log_dir={model_dir}/logs", "--",
             "t5x.train"], {**env, "JAX_PLATFORMS": "cpu"}, [])
  if devices == 1:
    return [sys.executable, "-m", "t5x.train"], env, []
  emulate = os.path.join(model_dir, "emulate_gpu_mesh.gin")
  with open(emulate, "w") as f:
    f.write("from __gin__ import dynamic_registration\nimport t5x_sharding_probe\n")
  env = {**env, "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
         "PYTHONPATH": os.pathsep.join(filter(None, [os.path.join(ROOT, "tests"),
                                                     env.get("PYTHONPATH")]))}
  return [sys.executable, "-m", "t5x.train"], env, [f"--gin_file={emulate}"]


def measure(gin_file: str, steps: int, extra: list[str], processes: int = 1,
            devices: int = 1) -> dict:
  """Trains `steps` steps of `gin_file`; T5X's rates over the second half of them."""
  model_dir = tempfile.mkdtemp(prefix="throughput_")
  half = max(1, steps // 2)
  launch, env, emulate = _launch(processes, devices, model_dir)
  cmd = [*launch, f"--gin_file={gin_file}", *emulate,
         f"--gin.MODEL_DIR={model_dir!r}", f"--gin.TRAIN_STEPS={half * 2}",
         f"--gin.train.stats_period={half}", f"--gin.train.eval_period={half * 2}",
         "--gin.train.eval_steps=1", f"--gin.utils.SaveCheckpointConfig.period={half * 2}",
         *extra]
  start = time.time()
  done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
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
  parser.add_argument("--processes", type=int, default=1,
                      help="N > 1: also each recipe as 1 process x N devices and as N processes")
  common.add_output_flags(parser)
  args = parser.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
  recipes = [(os.path.basename(g), g, []) for g in (args.gin_file or RECIPES)]
  for variant in args.variant:
    name, _, flags = variant.partition(":")
    recipes.append((name, recipes[0][1], flags.split()))
  layouts = [(1, 1)]
  if args.processes > 1:
    layouts += [(1, args.processes), (args.processes, 1)]
  rows = []
  for (name, gin_file, extra), (processes, devices) in itertools.product(recipes, layouts):
    m = measure(gin_file, args.steps, extra, processes, devices)
    if (processes, devices) != (1, 1):
      name = f"{name}, {processes} process{'es' * (processes > 1)} x {devices} device(s)"
    flops_per_token = 6 * m["params"] + 12 * m["layers"] * m["width"] * m["length"]
    flops = flops_per_token * (m["tokens_per_s"] or 0)
    rows.append({"recipe": name, "params (non-embedding)": m["params"],
                 "tokens/step": m["batch"] * m["length"],
                 "steps/s": round(m["steps_per_s"] or 0, 3),
                 "tokens/s": round(m["tokens_per_s"] or 0),
                 "model GFLOP/s": round(flops / 1e9, 2),
                 "utilisation (of f32 peak)": f"{flops / peaks['float32']:.1%}"})
    if args.processes > 1:
      rows[-1]["step time / 1 process's"] = ""
    if processes > 1:  # beside the one process with as many devices, just measured
      one = rows[-2]["steps/s"]
      rows[-1]["step time / 1 process's"] = round(one / rows[-1]["steps/s"], 2)
  extra = {"device": f"{device.platform}: {device.device_kind}", "steps": args.steps,
           "peak_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
           "date": time.strftime("%Y-%m-%d")}
  # The process comparison is its own result (and table), beside the recipes'.
  result_name = "train_throughput_processes" if args.processes > 1 else "train_throughput"
  result = common.report(result_name, rows, common.out_dir(args), extra)
  print(f"device {extra['device']}; matmul peak GFLOP/s: {extra['peak_gflops']}")
  if args.update_readme:
    begin, end = (marker.format(result_name) for marker in MARKERS)
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    command = " ".join(sys.argv[1:])
    common.write_section("\n".join([
        begin, f"`python benchmarks/train_throughput.py {command}` ({extra['date']}, "
        f"{result['machine']['cpus']} CPUs, {extra['device']}; matmul peak: "
        f"{extra['peak_gflops']['float32']} GFLOP/s float32, "
        f"{extra['peak_gflops']['bfloat16']} bfloat16). Model FLOPs: PaLM's 6N + 12LdT per "
        "token; rates over the second half of the steps.", "", *lines, end]),
        begin, end, "Training across processes" if args.processes > 1 else "Training throughput")


if __name__ == "__main__":
  main()
