"""The leader's write side: decisions committed to etcd, events, reconciliation, the runtime loop, lifecycle, migration and relays to agents and apps."""
