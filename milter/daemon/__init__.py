"""The milter face: pymilter callbacks, spooling, the decision turned into milter
operations, and the runner that inspects in worker processes or inline."""
