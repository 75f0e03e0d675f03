"""Durable state: the fenced etcd store, the key layout, the list+watch cache, the election."""
