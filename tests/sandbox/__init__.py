"""Tests of the sandbox network: in process and on loopback sockets."""
