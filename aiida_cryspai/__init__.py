"""aiida-cryspai: CrySPAI crystal structure prediction with AiiDA provenance.

The science layer (:mod:`aiida_cryspai.search`, :mod:`aiida_cryspai.ml`, :mod:`aiida_cryspai.analysis`)
imports no AiiDA; importing this package imports nothing heavy.
"""

__version__ = "0.1.0"
