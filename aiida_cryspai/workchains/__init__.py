"""Orchestration: ``cryspai.main`` (the CrySPAI loop) and ``cryspai.oracle`` (batched oracle relaxations)."""
