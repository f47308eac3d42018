"""Gin configs shipped with code_t5 (package data, so they resolve from any install)."""
