"""Reading and preparing each corpus (FLCC, wikitext, CoNaLa, CodeSearchNet) into the data dir."""
