"""The sandbox: decaudit's own miniature AT Protocol network, cryptographically real.

It exists because the real network cannot be reached from CI, because a journalist should see a
report before auditing anyone, and because tests, benchmarks and sample reports need accounts whose
truth is known. It is real where it matters: PLC operations, repository commits, MSTs, CAR files and
blob CIDs are produced with real cryptography and the same encodings as the live network, so a check
that passes here passes for a reason.

Hostnames and operators mirror today's network (``bsky.social``, ``*.host.bsky.network``,
``plc.directory``, ``bsky.network``, independent providers, relays and mirrors); users' own domains
live under the ``.test`` TLD, so no sandbox name can be mistaken for a real person's. Every response
carries the ``X-Decaudit-Sandbox`` header and every report made from it says it audits sandbox data.

The same network runs in process (an httpx transport and a static resolver: the injection points
tests use) and on real sockets on 127.0.0.1 (``decaudit sandbox serve``).
"""
