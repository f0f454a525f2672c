"""The study report (``seqtune report``) and single figures (``seqtune plot``).

Reads a study folder without writing to it or locking it; nothing here runs during a
search. Imports ``seqtune.search``; nothing in ``seqtune.search`` imports this package.
"""
