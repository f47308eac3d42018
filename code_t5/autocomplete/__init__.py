"""Autocomplete: completers (n-gram baseline, exported models), the /autocomplete server
(`python -m code_t5.autocomplete.server`) and the replay evaluation's protocol. Importing it
loads no TensorFlow.
"""
