"""The ``cryspai`` command line: ``setup``, ``predict``, ``show``, ``export``."""
