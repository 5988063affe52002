"""Network layer: the one place that talks to DNS and HTTP, under one policy.

Everything above this package receives evidence or :class:`~auditor.models.common.ProbeFailure`
records; nothing above it catches ``httpx`` or ``dns`` exceptions.
"""
