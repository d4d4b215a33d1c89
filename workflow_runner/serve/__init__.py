"""``wfrun serve``: an authenticated HTTP API (and later web pages) over the run store.

The server is a *reader* of the run store and the run directories plus a
*launcher* of ordinary detached ``wfrun run`` processes: it owns no run, so
killing it (even with ``kill -9``) loses nothing and stops nothing.
"""
