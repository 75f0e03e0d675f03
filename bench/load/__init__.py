"""`aiwo bench load` (an open-loop HTTP load generator) and `aiwo bench gateway`."""
