"""The checkpoint-vs-model comparison behind the one-line restore errors (no T5X needed)."""
from code_t5.train import checkpoint_checks

T5_2 = {"token_embedder/embedding": (384, 64), "encoder/layers_0/mlp/wo/kernel": (128, 64),
        "encoder/layers_1/mlp/wo/kernel": (128, 64), "decoder/layers_0/mlp/wo/kernel": (128, 64),
        "decoder/layers_1/mlp/wo/kernel": (128, 64)}


def test_same_structure_fits():
  assert checkpoint_checks.structure_mismatch(T5_2, dict(T5_2)) is None


def test_layer_counts_name_both_sides():
  model = {**T5_2, "encoder/layers_2/mlp/wo/kernel": (128, 64)}
  assert checkpoint_checks.structure_mismatch(T5_2, model) == (
      "encoder: 2 layers in the checkpoint, 3 in the model")


def test_shapes_name_the_parameter_and_both_shapes():
  model = {**T5_2, "token_embedder/embedding": (512, 64)}
  assert checkpoint_checks.structure_mismatch(T5_2, model) == (
      "token_embedder/embedding: (384, 64) in the checkpoint, (512, 64) in the model")


def test_a_model_that_restores_part_of_a_checkpoint_fits():
  # The dual encoder: the T5 checkpoint's encoder and embedding, a projection of its own.
  dual = {k: v for k, v in T5_2.items() if not k.startswith("decoder/")}
  dual["projection/kernel"] = (64, 64)
  assert checkpoint_checks.structure_mismatch(T5_2, dual) is None
  assert "no parameter in common" in checkpoint_checks.structure_mismatch(
      T5_2, {"other/kernel": (2, 2)})
  assert checkpoint_checks.structure_mismatch({}, T5_2) is None  # unknown side: T5X checks


def test_missing_checkpoint_lists_the_ones_there(tmp_path):
  for step in (0, 20):
    (tmp_path / f"checkpoint_{step}" / "state").mkdir(parents=True)
  (tmp_path / "model.ckpt-30.index").write_text("")  # Mesh TF's: not a T5X checkpoint
  assert checkpoint_checks.missing_checkpoint(str(tmp_path / "checkpoint_2000")) == (
      f"checkpoint {tmp_path}/checkpoint_2000 does not exist; checkpoints in {tmp_path}: "
      "checkpoint_0, checkpoint_20.")
  assert "is a model dir, not one checkpoint" in checkpoint_checks.missing_checkpoint(
      str(tmp_path))
