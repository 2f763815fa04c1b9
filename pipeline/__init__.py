"""temakarta's pure library: extract → segment → regions → embed → themes → matrix.

Nothing in this package imports Prefect or writes files; `flows/` does the I/O and wiring.
"""
