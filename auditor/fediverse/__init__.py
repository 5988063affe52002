"""Reading fediverse (ActivityPub) evidence: documents, who controls what, and the band's layers.

Pure functions over :class:`~auditor.models.fediverse.FediverseProbes`, shared by the
``fediverse-`` checks, the spectrum gates and the dependency graph so they always agree.
"""
