"""Autocomplete: completers (n-gram baseline, exported models), the /autocomplete server
(`code-t5-serve`) and the replay evaluation's protocol. Importing it
loads no TensorFlow.
"""
