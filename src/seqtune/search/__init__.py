"""The search: one trial loop (``loop``) over backends behind one interface (``backends``:
TPE and random through Optuna's ask/tell, Hyperband through keras-tuner's Oracle), the
runner that trains one trial (``runner``, ``isolation``), how a study trains by the version
that made it (``versions``), trial records, progress and stop requests.

Imports downward only: ``models``, ``data``, ``objectives``, ``spaces``, ``store``; a study's
lifecycle (``seqtune.study``) and exports (``seqtune.exported``) build on it."""
