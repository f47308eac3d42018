"""code_t5: seqio tasks, mixtures and gin configs for code models, and the applications built
on them. Importing the package imports no TensorFlow and registers nothing: tasks register with
`import code_t5.tasks`, mixtures with `import code_t5.mixtures` (as `t5.data.tasks` does)."""

__version__ = "0.1.0"
