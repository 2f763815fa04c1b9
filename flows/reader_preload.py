"""Imported once by the forkserver of the reader processes (flows/isolation.py): whatever is
loaded here, every document's reader starts with, instead of loading it again per document."""

from pipeline.extract import warm_up

warm_up()
