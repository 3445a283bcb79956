"""The atomic-energy network: Chebyshev descriptors, per-species MLPs, training, ASE calculator."""
