"""Using a study's result: ``export`` writes the best trial as a fixed spec, its model and
forecasts (and ``train`` refits such a spec); ``predict`` forecasts with an export. Builds
on ``seqtune.study``, ``seqtune.search`` and ``seqtune.store``."""
