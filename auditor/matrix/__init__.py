"""Reading Matrix evidence: server discovery, signed server keys, who controls what.

Pure functions over :class:`~auditor.models.matrix.MatrixProbes`, shared by the ``matrix-``
checks, the spectrum gates and the dependency graph.
"""
