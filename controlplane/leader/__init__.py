"""The leader's write side.

Decisions committed to etcd, events, reconciliation, the runtime loop, lifecycle, migration,
and the relays that carry commands to agents and directives to apps.
"""
