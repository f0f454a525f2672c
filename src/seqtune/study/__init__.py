"""A study's lifecycle: launch, open, resume, run (through ``seqtune.search``'s trial
loop), status (``lifecycle``), and the baselines ``status`` scores beside the trials
(``baselines``). Builds on ``seqtune.search`` and ``seqtune.store``."""
