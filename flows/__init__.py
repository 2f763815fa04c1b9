"""Prefect flows, the command line and all file I/O for temakarta."""
