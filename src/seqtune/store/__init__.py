"""Where a study's state lives: atomic writes and the files of a study folder (``files``),
the owner's lock (``lock``), the data checksum (``digest``), where a command may write
(``outputs``), storage URLs and database servers (``server``), scores kept for the next
process (``kept``).

The bottom of the study's layers: imports nothing of ``search``, ``study`` or
``exported``, which all use it."""
