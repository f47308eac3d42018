"""Gin files, found as package resources: --gin_file=code_t5/gin_configs/..."""
