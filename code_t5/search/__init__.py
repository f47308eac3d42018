"""Code search: find the functions of a source tree that answer an English question.

extraction (functions of Python, Java, JavaScript, Go, PHP and Ruby files), index (build, load,
query), retrieval (BM25, faiss, the CodeSearchNet MRR protocol), cli (`python -m
code_t5.search`). Importing it loads no TensorFlow.
"""
