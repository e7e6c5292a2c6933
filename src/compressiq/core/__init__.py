"""The scoring core: windows, totals, the engine, the one model loader, runner, store, corpus, registry."""
