"""Trip-chunk ingest: the offline-upload API (seed 004) and its landing zone.

The HTTP layer (``app``) only authenticates and streams bodies; every rule
about what may be written lives in ``service`` so the directory importer
applies exactly the same checks as the server.
"""
