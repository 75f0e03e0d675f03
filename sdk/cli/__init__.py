"""The `aiwo` command line, built only on the public SDK."""
