"""Git, and the only code that imports GitPython: the repository, commit trailers, the journal of a change in progress, verification records."""
