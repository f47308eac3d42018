"""The contrastive loss of the code-search dual encoder (JAX only, so it is tested without T5X)."""
import jax
import jax.numpy as jnp


def info_nce(queries: jnp.ndarray, passages: jnp.ndarray, temperature: float,
             symmetric: bool = True) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Mean InfoNCE loss with in-batch negatives (row i's positive is column i), and how often
  each query's own passage scores highest. Inputs are unit vectors, [batch, dim]; `symmetric`
  averages the query -> passage and passage -> query directions."""
  logits = (queries @ passages.T) / temperature
  labels = jnp.arange(logits.shape[0])
  loss = -jnp.mean(jax.nn.log_softmax(logits, axis=-1)[labels, labels])
  if symmetric:
    loss = 0.5 * (loss - jnp.mean(jax.nn.log_softmax(logits, axis=0)[labels, labels]))
  accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
  return loss, accuracy
