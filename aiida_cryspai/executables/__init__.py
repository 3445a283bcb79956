"""Console scripts run by the CalcJobs (``cryspai-relax``, ``cryspai-train``, ``cryspai-evolve``).

They import no AiiDA: a CalcJob's folder holds their input files, so they run on any computer that has
the package installed (a laptop, a cluster node, a GPU node).
"""
