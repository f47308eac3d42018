"""The seqio pieces: vocabularies, data sources, preprocessors, metrics and the declarative task
configs. Importing this package imports nothing else; its modules import TensorFlow as needed."""
