"""Parsers of the script CalcJobs: retrieved files into structures, energies, datasets and models."""
