"""Light stages of the CrySPAI loop, one calcfunction per module."""
