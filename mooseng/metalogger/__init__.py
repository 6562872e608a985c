"""The metalogger: a copy of the committed changelog and snapshots, for disaster recovery."""
